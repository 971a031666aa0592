// ContractionCalls: after bufferization, contractions become calls of Kiln's C kernels
// (JitKernels.cc, ConvKernels.cc), with the zero fill before them and a bias add (+ relu) after
// them folded into the call. No MLIR headers here: LinalgToLLVM.cc holds the module.
#pragma once

namespace mlir {
class Operation;
}

namespace kiln::compiler {

/// On the bufferized `module`: a float32/float64/int32/int64 linalg.matmul (plain or transposed)
/// becomes a call of kiln_gemm_<f32|f64|i32|i64>, a linalg.batch_matmul (plain or transposed) of
/// kiln_batch_gemm_<t> (Note [Contractions in compiled code] in JitKernels.cc), told to
/// overwrite its output when the only thing before it was a zero fill (the fill goes); a matmul
/// or conv2d call whose output only an elementwise bias add (+ relu) reads becomes one call of
/// kiln_gemm_bias_* / kiln_conv2d_bias_* writing that op's output (Note [Contraction epilogues]
/// in ContractionCalls.cc). `library_gemm` false (KILN_COMPILER_GEMM=loops) leaves matmuls to
/// LLVM's loops; conv2d epilogues are fused either way.
void contractions_to_library_calls(mlir::Operation* module, bool library_gemm);

/// When ContractionCalls.cc was compiled: part of pipeline_build_id() (the disk cache key).
const char* contraction_calls_build_id();

}  // namespace kiln::compiler
