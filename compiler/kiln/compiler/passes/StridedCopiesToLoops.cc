// StridedCopiesToLoops: memref.copy between strided views becomes linalg.copy
// (kiln-strided-copies-to-loops).
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_STRIDEDCOPIESTOLOOPS
#include "kiln/compiler/Passes.h.inc"

namespace {

// memref.copy between strided views (an insert_slice into a concat's middle) lowers to a call
// of `memrefCopy` from MLIR's C runner utils, a library Kiln does not load: such copies become
// linalg.copy, i.e. loops. Contiguous copies stay memref.copy (an LLVM memcpy).
void strided_copies_to_loops(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::memref::CopyOp> copies;
  module.walk([&](mlir::memref::CopyOp op) {
    auto src = mlir::cast<mlir::MemRefType>(op.getSource().getType());
    auto dst = mlir::cast<mlir::MemRefType>(op.getTarget().getType());
    if (!src.getLayout().isIdentity() || !dst.getLayout().isIdentity()) copies.push_back(op);
  });
  for (mlir::memref::CopyOp op : copies) {
    mlir::OpBuilder b(op);
    b.create<mlir::linalg::CopyOp>(op.getLoc(), mlir::ValueRange{op.getSource()}, mlir::ValueRange{op.getTarget()});
    op.erase();
  }
}

struct StridedCopiesToLoopsPass : impl::StridedCopiesToLoopsBase<StridedCopiesToLoopsPass> {
  void runOnOperation() override { strided_copies_to_loops(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
