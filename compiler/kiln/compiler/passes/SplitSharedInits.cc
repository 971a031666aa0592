// SplitSharedInits: each use of a shared tensor.empty and each init use of a shared linalg.fill
// gets an op of its own (kiln-split-shared-inits).
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/LoopLikeInterface.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_SPLITSHAREDINITS
#include "kiln/compiler/Passes.h.inc"

namespace {

// CSE merges identical tensor.empty ops; empty-tensor elimination would then make every loop
// that used the shared one write into the same destination. Each use gets its own again.
void split_shared_empty_tensors(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::tensor::EmptyOp> shared;
  module.walk([&](mlir::tensor::EmptyOp op) {
    if (!op->hasOneUse() && !op->use_empty()) shared.push_back(op);
  });
  for (mlir::tensor::EmptyOp op : shared) {
    llvm::SmallVector<mlir::OpOperand*> uses;
    for (mlir::OpOperand& use : op->getUses()) uses.push_back(&use);
    for (size_t i = 1; i < uses.size(); ++i) {
      mlir::OpBuilder b(uses[i]->getOwner());
      uses[i]->set(b.clone(*op.getOperation())->getResult(0));
    }
  }
}

// Whether `use` is an init that its op writes in place: a destination-style op's init, or the
// initial value of a loop-carried tensor (the segment sums' scatter loop updates it in place).
bool is_init(mlir::OpOperand& use) {
  mlir::Operation* owner = use.getOwner();
  if (auto dps = mlir::dyn_cast<mlir::DestinationStyleOpInterface>(owner)) return dps.isDpsInit(&use);
  if (auto loop = mlir::dyn_cast<mlir::LoopLikeOpInterface>(owner)) {
    mlir::MutableArrayRef<mlir::OpOperand> inits = loop.getInitsMutable();
    return !inits.empty() && &use >= inits.data() && &use < inits.data() + inits.size();
  }
  return false;
}

// CSE merges identical linalg.fill ops too: a fill that initializes several outputs (of one
// multi-result generic after sibling fusion, say) would be copied by One-Shot Bufferize into
// every output but one. Each init use gets a fill of its own instead.
void split_shared_fills(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::linalg::FillOp> shared;
  module.walk([&](mlir::linalg::FillOp op) {
    if (op.hasPureTensorSemantics() && !op->hasOneUse() && !op->use_empty()) shared.push_back(op);
  });
  for (mlir::linalg::FillOp op : shared) {
    llvm::SmallVector<mlir::OpOperand*> inits;
    for (mlir::OpOperand& use : op->getUses())
      if (is_init(use)) inits.push_back(&use);
    // Where the fill is also read, every init gets its own; else all but one.
    const bool only_inits = inits.size() == static_cast<size_t>(std::distance(op->use_begin(), op->use_end()));
    for (size_t i = only_inits ? 1 : 0; i < inits.size(); ++i) {
      mlir::OpBuilder b(inits[i]->getOwner());
      inits[i]->set(b.clone(*op.getOperation())->getResult(0));
    }
  }
}

struct SplitSharedInitsPass : impl::SplitSharedInitsBase<SplitSharedInitsPass> {
  void runOnOperation() override { split_shared_fills(getOperation());
    split_shared_empty_tensors(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
