// LinalgToLLVM: parses the traced module, runs fusion, bufferization and the lowering to the
// LLVM dialect, LLVM -O2 and code generation (host CPU) into an object, which ObjectLoader.cc
// links into the process. MLIR and LLVM headers only in the .cc files.
#pragma once
#include <memory>
#include <mutex>
#include <string>

namespace kiln::compiler {

/// The texts of the stages after "traced", in pipeline order.
struct LoweredStages {
  std::string fused, bufferized, llvm_dialect, llvm_ir;
  /// Milliseconds: context set-up and parsing, fusion, bufferization, lowering to the LLVM
  /// dialect, translation + LLVM -O2 + code generation (the JIT), each including its printing.
  double setup_ms = 0, fuse_ms = 0, bufferize_ms = 0, lower_ms = 0, jit_ms = 0;
};

/// This build of the pipeline (its textual form and a hash of compiler/'s sources): part of the
/// disk cache key, so that a compiler built from other sources never links objects another
/// pipeline produced.
const char* pipeline_build_id();

/// The symbol of the packed entry of `function`: void(void** args), args[i] -> i-th argument.
std::string packed_entry_name(const std::string& function);

/// The JIT-compiled code of one module.
class CompiledModule {
 public:
  /// Compiles `mlir_text` (one func.func `function` with llvm.emit_c_interface); fills `stages`,
  /// and `*object` (when given) with the object code it linked (what load() takes).
  /// Throws kiln::Error with MLIR's diagnostics when a step fails.
  static std::unique_ptr<CompiledModule> compile(const std::string& mlir_text, const std::string& function,
                                                 LoweredStages& stages, std::string* object = nullptr);
  /// Links object code that compile() produced for `function` (from the disk cache): no MLIR, no
  /// LLVM optimization or code generation. kiln::Error when it cannot be linked.
  static std::unique_ptr<CompiledModule> load(const std::string& object, const std::string& function);
  /// Only the stage texts of compile() (MLIR passes and LLVM -O2, no code generation): for
  /// stage_text() after a disk cache hit.
  static void lower(const std::string& mlir_text, const std::string& function, LoweredStages& stages);
  ~CompiledModule();

  /// The packed entry: args[i] points at a pointer to the i-th memref descriptor.
  void (*entry)(void**) = nullptr;

  /// Host assembly of the optimized LLVM IR `llvm_ir` (code generation at -O2, host CPU).
  static std::string assembly(const std::string& llvm_ir);

 private:
  CompiledModule();
  struct Linked;  // ObjectLoader.cc
  std::unique_ptr<Linked> linked_;
};

}  // namespace kiln::compiler
