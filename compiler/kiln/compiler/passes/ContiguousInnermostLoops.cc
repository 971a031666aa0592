// ContiguousInnermostLoops: a reduction's loop over its largest input's contiguous dim moves
// innermost (kiln-contiguous-innermost-loops).
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_CONTIGUOUSINNERMOSTLOOPS
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [Contiguous innermost loop]
// A reduction over rows (reduce_sum(x, {0}), a bias gradient) comes out of linalg as loops
// (column, row) with the reduction innermost: a strided walk down each column and one chain of
// dependent adds that LLVM may not reassociate, so nothing vectorizes. When the largest input's
// contiguous dim is indexed by a parallel loop while a reduction loop is innermost, that
// parallel loop moves innermost: rows outer, columns inner, every column's sum an independent
// lane, the same additions in the same order (so the same rounding as eager).
void contiguous_innermost_loops(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::linalg::GenericOp> ops;
  module.walk([&](mlir::linalg::GenericOp op) { ops.push_back(op); });
  mlir::IRRewriter rewriter(module.getContext());
  for (mlir::linalg::GenericOp op : ops) {
    const unsigned loops = op.getNumLoops();
    auto iterators = op.getIteratorTypesArray();
    if (loops < 2 || iterators.back() != mlir::utils::IteratorType::reduction) continue;
    // The input with the most elements, and the loop that indexes its last dim.
    // A -1 dim (Note [Dynamic dims]) counts as kDynamicDimGuess elements: a batch.
    constexpr int64_t kDynamicDimGuess = 1024;
    mlir::OpOperand* largest = nullptr;
    int64_t most = -1;
    for (mlir::OpOperand* in : op.getDpsInputOperands()) {
      auto t = mlir::dyn_cast<mlir::MemRefType>(in->get().getType());
      if (!t || t.getRank() == 0) continue;
      int64_t elements = 1;
      for (int64_t d : t.getShape()) elements *= mlir::ShapedType::isDynamic(d) ? kDynamicDimGuess : d;
      if (elements <= most) continue;
      most = elements;
      largest = in;
    }
    if (largest == nullptr) continue;
    mlir::AffineMap map = op.getMatchingIndexingMap(largest);
    auto dim = mlir::dyn_cast<mlir::AffineDimExpr>(map.getResults().back());
    if (!dim || dim.getPosition() == loops - 1 || iterators[dim.getPosition()] != mlir::utils::IteratorType::parallel) continue;
    llvm::SmallVector<unsigned> order;
    for (unsigned l = 0; l < loops; ++l)
      if (l != dim.getPosition()) order.push_back(l);
    order.push_back(dim.getPosition());
    rewriter.setInsertionPoint(op);
    (void)mlir::linalg::interchangeGenericOp(rewriter, op, order);
  }
}

struct ContiguousInnermostLoopsPass : impl::ContiguousInnermostLoopsBase<ContiguousInnermostLoopsPass> {
  void runOnOperation() override { contiguous_innermost_loops(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
