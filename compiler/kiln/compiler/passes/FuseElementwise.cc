// FuseElementwise: MLIR's elementwise fusion of linalg on tensors with Kiln's rules of what not
// to fuse (kiln-fuse-elementwise).
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [Fusion keeps a reduction's meaning]
// linalg-fuse-elementwise-ops (MLIR 19) takes any all-parallel producer, and a reduction of a
// rank-0 tensor is one: a generic with no loops whose body adds its input to its init. Fused
// into a consumer that broadcasts it (`add(x, reduce_sum(y))`: map (d0, d1) -> ()), the init
// becomes an output of the consumer's loop nest at that broadcast map, so its accumulator is
// carried from one element of x to the next and element i got (i+1)*y. MLIR checks that the
// producer's first init map is a permutation, not whether the fused body visits each producer
// element once. So a producer is fused only when
//   - every init map of it is a permutation (MLIR 19 checks the first alone: a fused producer
//     with several results could have a broadcast one; llvm-project #149843), and
//   - if its body reads an init (an accumulator, or any in-place update), the consumer reads the
//     fused result through a permutation too: each element of the producer's iteration space is
//     then computed exactly once, as before fusion.
// A rank-0 reduction still fuses with its rank-0 finish (the mean's float64-to-float32 cast),
// and with a broadcasting consumer it stays a loop nest of its own (a single iteration).
bool fusion_keeps_meaning(mlir::OpOperand& fused) {
  auto producer = fused.get().getDefiningOp<mlir::linalg::LinalgOp>();
  if (!producer) return true;  // a reshape folded by expansion: one element in, one out
  bool reads_an_init = false;
  for (mlir::OpOperand& init : producer.getDpsInitsMutable()) {
    if (!producer.getMatchingIndexingMap(&init).isPermutation()) return false;
    reads_an_init = reads_an_init || producer.payloadUsesValueFromOperand(&init);
  }
  auto consumer = mlir::dyn_cast<mlir::linalg::LinalgOp>(fused.getOwner());
  return !reads_an_init || !consumer || consumer.getMatchingIndexingMap(&fused).isPermutation();
}

// Note [Contractions stay named]
// MLIR 19's linalg-fuse-elementwise-ops folds a tensor.expand_shape of any linalg op's result
// into that op by expanding its loops, and turns a named op into a linalg.generic on the way.
// A Flatten before a Dense layer is such a reshape: the gradient dy W^T of [B,20000] feeds
// an expand_shape to [B,20,20,50], and the matmul_transpose_b became a generic which the library
// call rewrite (contractions_to_library_calls) no longer recognizes: a 50x20000x500 product ran as
// scalar loops (57% of the CNN's compiled step). This is the pass's own pattern set (its
// runOnOperation, LLVM 19) with a control function that refuses any fusion whose producer or
// consumer is a contraction, so contractions keep their names and their library calls.
void fuse_elementwise_ops(mlir::Operation* module) {
  mlir::MLIRContext* ctx = module->getContext();
  auto is_contraction = [](mlir::Operation* op) {
    auto linalg_op = mlir::dyn_cast_or_null<mlir::linalg::LinalgOp>(op);
    return linalg_op && mlir::linalg::isaContractionOpInterface(linalg_op);
  };
  mlir::linalg::ControlFusionFn control = [&](mlir::OpOperand* fused) {
    mlir::Operation* producer = fused->get().getDefiningOp();
    return producer && producer->hasOneUse() && !is_contraction(producer) && !is_contraction(fused->getOwner()) &&
           fusion_keeps_meaning(*fused);
  };
  mlir::RewritePatternSet patterns(ctx);
  mlir::linalg::populateElementwiseOpsFusionPatterns(patterns, control);
  mlir::linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
  mlir::affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
  mlir::linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
  mlir::tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
  mlir::tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
  ctx->getLoadedDialect<mlir::linalg::LinalgDialect>()->getCanonicalizationPatterns(patterns);
  mlir::linalg::populateConstantFoldLinalgOperations(patterns, control);
  const mlir::FrozenRewritePatternSet frozen(std::move(patterns));
  mlir::GreedyRewriteConfig config;
  config.useTopDownTraversal = true;  // as the pass: for compile time
  module->walk([&](mlir::func::FuncOp fn) { (void)mlir::applyPatternsAndFoldGreedily(fn, frozen, config); });
}

struct FuseElementwisePass : impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override { fuse_elementwise_ops(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
