// WorkspacesPerThread: each workspace global's address becomes the calling thread's buffer
// (kiln-workspaces-per-thread).
#include "kiln/compiler/Passes.h"

#include "kernels/cpu/jit/temporary_buffers.h"
#include "kiln/compiler/passes/Workspace.h"
#include "llvm/ADT/StringMap.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_WORKSPACESPERTHREAD
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [Workspace per thread] (kernels/cpu/jit/temporary_buffers.cc): each kiln_workspace_<slot> global's
// address becomes a call of kiln_thread_workspace(slot, bytes), the calling thread's buffer, and
// the global goes. The result is declared 64-byte aligned, as the global was.
mlir::LogicalResult workspaces_per_thread(mlir::ModuleOp module) {
  llvm::StringMap<std::pair<int64_t, int64_t>> workspaces;  // global -> (slot, bytes)
  std::vector<mlir::LLVM::GlobalOp> globals;
  for (auto g : module.getOps<mlir::LLVM::GlobalOp>()) {
    llvm::StringRef suffix = g.getSymName();
    int64_t slot;
    if (!suffix.consume_front(kWorkspacePrefix) || suffix.getAsInteger(10, slot)) continue;
    auto array = mlir::dyn_cast<mlir::LLVM::LLVMArrayType>(g.getGlobalType());
    if (!array || slot >= kernels::jit::kThreadWorkspaceSlots)
      return g.emitError() << "a workspace global is an i8 array with a slot below " << kernels::jit::kThreadWorkspaceSlots;
    workspaces[g.getSymName()] = {slot, static_cast<int64_t>(array.getNumElements())};
    globals.push_back(g);
  }
  if (globals.empty()) return mlir::success();
  mlir::MLIRContext* ctx = module.getContext();
  mlir::OpBuilder b(ctx);
  b.setInsertionPointToStart(module.getBody());
  auto i64 = b.getI64Type();
  auto ptr = mlir::LLVM::LLVMPointerType::get(ctx);
  auto fn = b.create<mlir::LLVM::LLVMFuncOp>(module.getLoc(), kernels::jit::kThreadWorkspaceFunction,
                                             mlir::LLVM::LLVMFunctionType::get(ptr, {i64, i64}));
  fn.setResultAttr(0, mlir::LLVM::LLVMDialect::getAlignAttrName(), b.getI64IntegerAttr(kWorkspaceAlignment));
  std::vector<mlir::LLVM::AddressOfOp> addresses;
  module.walk([&](mlir::LLVM::AddressOfOp op) {
    if (workspaces.contains(op.getGlobalName())) addresses.push_back(op);
  });
  for (mlir::LLVM::AddressOfOp op : addresses) {
    const auto [slot, bytes] = workspaces.lookup(op.getGlobalName());
    b.setInsertionPoint(op);
    mlir::Value args[] = {b.create<mlir::LLVM::ConstantOp>(op.getLoc(), i64, slot),
                          b.create<mlir::LLVM::ConstantOp>(op.getLoc(), i64, bytes)};
    auto call = b.create<mlir::LLVM::CallOp>(op.getLoc(), fn, args);
    op.getResult().replaceAllUsesWith(call.getResult());
    op.erase();
  }
  for (mlir::LLVM::GlobalOp g : globals) g.erase();
  return mlir::success();
}

struct WorkspacesPerThreadPass : impl::WorkspacesPerThreadBase<WorkspacesPerThreadPass> {
  void runOnOperation() override {
    if (mlir::failed(workspaces_per_thread(getOperation()))) signalPassFailure();
  }
};

}  // namespace
}  // namespace kiln::compiler
