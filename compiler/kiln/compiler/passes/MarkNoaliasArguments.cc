// MarkNoaliasArguments: an outlined body's disjoint views become noalias parameters, and the body
// always-inline (kiln-mark-noalias-arguments; Note [Disjoint temporaries] in
// OutlineDisjointViews.cc).
#include "kiln/compiler/Passes.h"

#include "kiln/compiler/passes/Workspace.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_MARKNOALIASARGUMENTS
#include "kiln/compiler/Passes.h.inc"

namespace {

mlir::LogicalResult mark_noalias_arguments(mlir::ModuleOp module) {
  mlir::MLIRContext* ctx = module.getContext();
  for (auto fn : module.getOps<mlir::LLVM::LLVMFuncOp>()) {
    auto noalias = fn->getAttrOfType<mlir::DenseI32ArrayAttr>(kNoAliasArguments);
    if (!noalias) continue;
    for (int32_t i : noalias.asArrayRef()) {
      if (i < 0 || static_cast<unsigned>(i) >= fn.getNumArguments() ||
          !mlir::isa<mlir::LLVM::LLVMPointerType>(fn.getArgument(static_cast<unsigned>(i)).getType()))
        return fn.emitError() << kNoAliasArguments << ": parameter " << i << " is not a view's pointer";
      fn.setArgAttr(static_cast<unsigned>(i), mlir::LLVM::LLVMDialect::getNoAliasAttrName(), mlir::UnitAttr::get(ctx));
    }
    fn->removeAttr(kNoAliasArguments);
    fn.setLinkage(mlir::LLVM::Linkage::Internal);
    fn->setAttr("passthrough", mlir::ArrayAttr::get(ctx, {mlir::StringAttr::get(ctx, "alwaysinline")}));
  }
  return mlir::success();
}

struct MarkNoaliasArgumentsPass : impl::MarkNoaliasArgumentsBase<MarkNoaliasArgumentsPass> {
  void runOnOperation() override {
    if (mlir::failed(mark_noalias_arguments(getOperation()))) signalPassFailure();
  }
};

}  // namespace
}  // namespace kiln::compiler
