// OutlineDisjointViews: a function's body moves into a callee that takes each disjoint temporary as
// an argument of its own (kiln-outline-disjoint-views).
#include "kiln/compiler/Passes.h"

#include "kiln/compiler/passes/Workspace.h"
#include "llvm/ADT/SetVector.h"
#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_OUTLINEDISJOINTVIEWS
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [Disjoint temporaries]
// LLVM sees every temporary as one object at some offset (the workspace global, or the dynamic
// workspace's allocation), so it cannot tell two temporaries apart: a loop that reads one and
// writes another gets a run-time overlap check and a scalar copy of itself, or stays scalar
// ("unsafe dependent memory operations"), and a reduction stores its accumulator on every trip.
// When a function's temporaries are small (at most kDisjointMaxBytes, or kDisjointMaxBytesPerUnit
// per unit of the dynamic size) they get bytes of their own instead of sharing by lifetime, and
// after the loops are built the function's body moves into a private function that takes each
// such view as an argument of its own, marked noalias (set after the conversion to the LLVM
// dialect, by kiln-mark-noalias-arguments from the outlined function's kiln.noalias_arguments:
// FuncToLLVM drops `llvm.noalias` on memref arguments). LLVM
// inlines the body back (always_inline) and turns the noalias arguments into alias scopes, so
// the views' loads and stores are known apart at no run-time cost. What stays in the entry block
// is what computes the views (the sizes, the workspace, the offsets), the call and the
// workspace's dealloc. The iris step (-1 batch): the loops' run-time overlap checks 7 -> 4, their
// share of the step (perf) 36% -> 31%, BM_iris_compiled_step 2.27-3.03 -> 2.13-2.71 us (six
// interleaved rounds of 3-repetition medians on a noisy machine). Giving each temporary a global
// of its own measured alike for static shapes, but a -1 dim's temporaries share one allocation.
void outline_disjoint_views(mlir::ModuleOp module) {
  for (auto f : llvm::to_vector(module.getOps<mlir::func::FuncOp>())) {
    if (f.isExternal() || f.getNumResults() != 0) continue;  // compiled functions return through arguments
    mlir::Block& entry = f.getBody().front();
    // What computes the views: stays before the call.
    llvm::SetVector<mlir::Operation*> prefix;
    mlir::BackwardSliceOptions slice;
    slice.inclusive = true;
    slice.filter = [&](mlir::Operation* op) { return op->getBlock() == &entry; };
    for (mlir::Operation& op : entry)
      if (op.hasAttr(kDisjointView)) mlir::getBackwardSlice(&op, &prefix, slice);
    if (prefix.empty()) continue;
    if (llvm::any_of(prefix, [](mlir::Operation* op) {
          return !mlir::isMemoryEffectFree(op) && !mlir::isa<mlir::memref::AllocOp>(op);
        }))
      continue;
    std::vector<mlir::Operation*> moved;
    for (mlir::Operation& op : entry) {
      if (prefix.contains(&op) || op.hasTrait<mlir::OpTrait::IsTerminator>()) continue;
      auto dealloc = mlir::dyn_cast<mlir::memref::DeallocOp>(op);
      if (dealloc && prefix.contains(dealloc.getMemref().getDefiningOp())) continue;  // the workspace's
      moved.push_back(&op);
    }
    // The body's arguments: the function's, then the prefix's values the body reads.
    llvm::SetVector<mlir::Value> captured(entry.args_begin(), entry.args_end());
    for (mlir::Operation* op : moved)
      op->walk([&](mlir::Operation* inner) {
        for (mlir::Value v : inner->getOperands())
          if (mlir::Operation* def = v.getDefiningOp(); def != nullptr && prefix.contains(def)) captured.insert(v);
      });
    // LLVM parameter positions (MLIR's memref calling convention: allocated and aligned pointer,
    // offset, sizes, strides); the aligned pointer of each disjoint view is noalias.
    llvm::SmallVector<int32_t> noalias;
    unsigned position = 0;
    bool known = true;
    for (mlir::Value v : captured) {
      if (auto memref = mlir::dyn_cast<mlir::MemRefType>(v.getType())) {
        mlir::Operation* def = v.getDefiningOp();
        if (def != nullptr && def->hasAttr(kDisjointView)) noalias.push_back(static_cast<int32_t>(position + 1));
        position += 3 + 2 * static_cast<unsigned>(memref.getRank());
      } else if (v.getType().isIntOrIndexOrFloat()) {
        position += 1;
      } else {
        known = false;
      }
    }
    if (!known) continue;
    mlir::OpBuilder b(module.getContext());
    b.setInsertionPointAfter(f);
    llvm::SmallVector<mlir::Type> types;
    for (mlir::Value v : captured) types.push_back(v.getType());
    auto outlined = b.create<mlir::func::FuncOp>(f.getLoc(), (f.getName() + "_body").str(), b.getFunctionType(types, {}));
    outlined.setPrivate();
    outlined->setAttr(kNoAliasArguments, b.getDenseI32ArrayAttr(noalias));
    mlir::Block* block = outlined.addEntryBlock();
    for (mlir::Operation* op : moved) op->moveBefore(block, block->end());
    for (auto [captured_value, arg] : llvm::zip(captured, block->getArguments()))
      mlir::Value(captured_value).replaceUsesWithIf(
          arg, [&](mlir::OpOperand& use) { return outlined->isProperAncestor(use.getOwner()); });
    b.setInsertionPointToEnd(block);
    b.create<mlir::func::ReturnOp>(f.getLoc());
    mlir::Operation* after_prefix = &*llvm::find_if(entry, [&](mlir::Operation& op) { return !prefix.contains(&op); });
    b.setInsertionPoint(after_prefix);
    b.create<mlir::func::CallOp>(f.getLoc(), outlined, captured.getArrayRef());
  }
}

struct OutlineDisjointViewsPass : impl::OutlineDisjointViewsBase<OutlineDisjointViewsPass> {
  void runOnOperation() override { outline_disjoint_views(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler
