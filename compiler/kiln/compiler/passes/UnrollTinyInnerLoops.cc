// UnrollTinyInnerLoops: innermost accumulating loops of 2 to 4 trips are unrolled
// (kiln-unroll-tiny-inner-loops).
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_UNROLLTINYINNERLOOPS
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [Tiny inner loops]
// A softmax over 3 classes, a row's sum or max over them: reductions whose innermost loop runs 2
// to 4 times, accumulating through memory (a store to the same element on every trip, which
// LLVM cannot keep in a register when the buffers may alias: a -1 dim's temporaries are views of
// one block at run-time offsets). Left as loops, that short loop is all the vectorizer sees and
// its carried accumulator serializes it (the iris step's loss over 16 x 3 logits: ~35% of the
// compiled loops' time). Unrolled in full, the loop above (the rows) becomes innermost, the
// accumulation a chain of values within one trip, and the row loop vectorizes. Only innermost
// loops of a nest with a constant trip count and such an accumulator are unrolled: unrolling the
// elementwise ones too made the rows' loop vectorize with 3-way interleaved loads and stores,
// ~4% faster again but twice the LLVM time. Measured (quiet, interleaved, four rounds, iris
// first call with a cold cache / BM_iris_compiled_step): before (-1 dims' elementwise loops not
// flattened either) 206-212 ms / 2.64-2.80 us; reductions unrolled 233-253 ms / 2.28-2.31 us;
// every tiny loop 276-283 ms / 2.20-2.51 us. A tiny loop whose stores do not move with the loop
// around it (a sum over the rows of 3 columns: the logits' bias gradient) is unrolled too: its 3
// sums then stay in registers through the rows' loop, where the vectorized 3-column loop had
// loaded and stored them (masked) on every row (~10% of the compiled loops' time).
void unroll_tiny_inner_loops(mlir::ModuleOp module) {
  constexpr int64_t kTinyTrips = 4;
  llvm::SmallVector<std::pair<mlir::scf::ForOp, int64_t>> loops;
  module.walk([&](mlir::scf::ForOp op) {
    if (!op->getParentOfType<mlir::scf::ForOp>()) return;
    bool nested = false;
    op.getBody()->walk([&](mlir::scf::ForOp) { nested = true; });
    if (nested) return;
    // A store whose address does not move with the loop, or with the loop around it (a sum over
    // the rows of a few columns).
    auto parent = op->getParentOfType<mlir::scf::ForOp>();
    bool accumulates = false;
    op.getBody()->walk([&](mlir::memref::StoreOp store) {
      for (mlir::Value iv : {op.getInductionVar(), parent.getInductionVar()})
        if (llvm::none_of(store.getIndices(), [&](mlir::Value v) { return v == iv; })) accumulates = true;
    });
    if (!accumulates) return;
    std::optional<int64_t> trips = mlir::constantTripCount(op.getLowerBound(), op.getUpperBound(), op.getStep());
    if (trips && *trips > 1 && *trips <= kTinyTrips) loops.push_back({op, *trips});
  });
  for (auto [op, trips] : loops) (void)mlir::loopUnrollByFactor(op, static_cast<uint64_t>(trips));
}

struct UnrollTinyInnerLoopsPass : impl::UnrollTinyInnerLoopsBase<UnrollTinyInnerLoopsPass> {
  void runOnOperation() override { unroll_tiny_inner_loops(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
