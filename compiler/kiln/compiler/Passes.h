// Passes: Kiln's MLIR passes (declared in Passes.td, one file each under passes/ or beside the
// transform they run) and the pipelines built from them (CpuPipeline.cc). MLIR headers: include
// this from the compiler's .cc files and tools only.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir {
class ModuleOp;
}

namespace kiln::compiler {

#define GEN_PASS_DECL
#include "kiln/compiler/Passes.h.inc"

/// Registers Kiln's passes and the `kiln-cpu-pipeline` pipeline (for kiln-opt).
void register_kiln_passes();

/// The dialects and interface models the pipelines use (the registry of the JIT's context and of
/// kiln-opt).
void register_dialects(mlir::DialectRegistry& registry);

/// What the CPU pipeline is told from outside the IR.
struct CpuPipelineOptions {
  /// Matmuls call GEMM kernels (KILN_COMPILER_GEMM unset or not `loops`).
  bool library_gemm = true;
  /// Called at the end of each stage of Note [Compiler pipeline] ("fused", "bufferized",
  /// "llvm-dialect") with the module as it stands then; may be empty.
  std::function<void(const char* stage, mlir::ModuleOp module)> at_stage;
};

/// The front half (target-neutral): elementwise fusion, Kiln's sibling and epilogue fusion, and
/// their cleanups, on linalg on tensors.
void build_front_half(mlir::OpPassManager& pm);

/// The CPU back half: bufferization, Kiln's loop and kernel-call rewrites, the workspace, loops,
/// and the conversion to the LLVM dialect.
void build_cpu_back_half(mlir::OpPassManager& pm, const CpuPipelineOptions& options);

/// The whole CPU pipeline: front half, then the CPU back half (Note [Compiler pipeline]).
void build_cpu_pipeline(mlir::OpPassManager& pm, const CpuPipelineOptions& options);

}  // namespace kiln::compiler
