// JitKernels: C functions the compiled code calls (contractions on LIBXSMM or
// kiln::kernels::gemm; convolutions in ConvKernels.cc), and the symbols LinalgToLLVM.cc registers
// with the JIT for them. No MLIR
// headers.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace kiln::compiler {

/// (symbol name, address) of every function compiled code may call.
std::vector<std::pair<std::string, void*>> jit_kernel_symbols();
/// The convolution kernels' share of them (ConvKernels.cc).
std::vector<std::pair<std::string, void*>> conv_kernel_symbols();

/// Whether rank-2 float contractions call a library GEMM (default) or run as LLVM loops
/// (KILN_COMPILER_GEMM=loops, for comparisons).
bool use_library_gemm();

}  // namespace kiln::compiler
