// FlattenElementwiseLoops: an elementwise generic over dense buffers becomes one loop over all
// their elements (kiln-flatten-elementwise-loops).
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_FLATTENELEMENTWISELOOPS
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [Flat elementwise loops]
// An elementwise generic over [20,20] lowers to a 20-trip inner loop, which the vectorizer
// covers 4 lanes at a time (5 iterations, no remainder) instead of 16: Adam's update of a
// [20,20] weight ran on xmm registers. When every operand is a dense row-major buffer of the
// loop shape (or a scalar), the nest is the same as one loop over all the elements: the
// generic is rewritten over the buffers collapsed to 1-D (views, no copies).
void flatten_elementwise_generics(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::linalg::GenericOp> ops;
  module.walk([&](mlir::linalg::GenericOp op) {
    if (!op.hasPureBufferSemantics() || op.getNumLoops() < 2 || op.hasIndexSemantics()) return;
    if (op.getNumReductionLoops() != 0) return;
    for (mlir::OpOperand& operand : op->getOpOperands()) {
      auto t = mlir::dyn_cast<mlir::MemRefType>(operand.get().getType());
      if (!t || !t.getLayout().isIdentity()) return;  // dense row-major; -1 dims are fine
      mlir::AffineMap map = op.getMatchingIndexingMap(&operand);
      if (!map.isIdentity() && map.getNumResults() != 0) return;
    }
    ops.push_back(op);
  });
  for (mlir::linalg::GenericOp op : ops) {
    mlir::OpBuilder b(op);
    mlir::MLIRContext* ctx = b.getContext();
    auto flat = [&](mlir::Value v) -> mlir::Value {
      auto t = mlir::cast<mlir::MemRefType>(v.getType());
      if (t.getRank() == 0) return v;
      mlir::ReassociationIndices all;
      for (int64_t d = 0; d < t.getRank(); ++d) all.push_back(d);
      return b.create<mlir::memref::CollapseShapeOp>(op.getLoc(), v, llvm::ArrayRef<mlir::ReassociationIndices>{all});
    };
    llvm::SmallVector<mlir::Value> ins, outs;
    llvm::SmallVector<mlir::AffineMap> maps;
    for (mlir::OpOperand* in : op.getDpsInputOperands()) {
      ins.push_back(flat(in->get()));
      maps.push_back(op.getMatchingIndexingMap(in).getNumResults() == 0 ? mlir::AffineMap::get(1, 0, ctx)
                                                                       : mlir::AffineMap::getMultiDimIdentityMap(1, ctx));
    }
    for (mlir::OpOperand& out : op.getDpsInitsMutable()) {
      outs.push_back(flat(out.get()));
      maps.push_back(op.getMatchingIndexingMap(&out).getNumResults() == 0 ? mlir::AffineMap::get(1, 0, ctx)
                                                                         : mlir::AffineMap::getMultiDimIdentityMap(1, ctx));
    }
    auto flat_op = b.create<mlir::linalg::GenericOp>(op.getLoc(), mlir::TypeRange{}, ins, outs, maps,
                                                     llvm::ArrayRef{mlir::utils::IteratorType::parallel});
    flat_op.getRegion().takeBody(op.getRegion());
    op.erase();
  }
}

struct FlattenElementwiseLoopsPass : impl::FlattenElementwiseLoopsBase<FlattenElementwiseLoopsPass> {
  void runOnOperation() override { flatten_elementwise_generics(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
