// LinalgToLLVM: parses the traced module, runs fusion, bufferization and the lowering to the
// LLVM dialect, and JIT-compiles it with MLIR's ExecutionEngine (LLVM -O2, host CPU). The only
// part of compiler/ that includes MLIR headers (in LinalgToLLVM.cc).
#pragma once
#include <memory>
#include <mutex>
#include <string>

namespace mlir {
class ExecutionEngine;
}

namespace kiln::compiler {

/// The texts of the stages after "traced", in pipeline order.
struct LoweredStages {
  std::string fused, bufferized, llvm_dialect, llvm_ir;
  /// Milliseconds: context set-up and parsing, fusion, bufferization, lowering to the LLVM
  /// dialect, translation + LLVM -O2 + code generation (the JIT), each including its printing.
  double setup_ms = 0, fuse_ms = 0, bufferize_ms = 0, lower_ms = 0, jit_ms = 0;
};

/// The JIT-compiled code of one module.
class CompiledModule {
 public:
  /// Compiles `mlir_text` (one func.func `function` with llvm.emit_c_interface); fills `stages`.
  /// Throws kiln::Error with MLIR's diagnostics when a step fails.
  static std::unique_ptr<CompiledModule> compile(const std::string& mlir_text, const std::string& function,
                                                 LoweredStages& stages);
  ~CompiledModule();

  /// The packed entry: args[i] points at a pointer to the i-th memref descriptor.
  void (*entry)(void**) = nullptr;

  /// Host assembly of the optimized LLVM IR `llvm_ir` (code generation at -O2, host CPU).
  static std::string assembly(const std::string& llvm_ir);

 private:
  CompiledModule();
  std::unique_ptr<mlir::ExecutionEngine> engine_;
};

}  // namespace kiln::compiler
