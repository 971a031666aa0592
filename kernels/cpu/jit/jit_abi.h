// JitKernels: C functions the compiled code calls (contractions on LIBXSMM or
// kiln::kernels::gemm; convolutions in kernels/cpu/jit/conv_calls.cc), and the symbols LinalgToLLVM.cc registers
// with the JIT for them. No MLIR
// headers.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::kernels::jit {

/// MLIR's StridedMemRefType<T, Rank>: a memref as the C interface (`_mlir_ciface_`) passes it.
template <typename T, int Rank>
struct MemrefDescriptor {
  T* allocated;
  T* aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

/// Entry i of a [batch, rows, cols] memref as a 2-D one (a view: no copy).
template <typename T>
MemrefDescriptor<T, 2> batch_entry(const MemrefDescriptor<T, 3>* m, int64_t i) {
  return {m->allocated, m->aligned, m->offset + i * m->strides[0], {m->sizes[1], m->sizes[2]}, {m->strides[1], m->strides[2]}};
}

/// The values of a 1-D memref (a fused bias, Note [Contraction epilogues] in
/// ContractionsToCalls.cc) at unit stride: its own buffer, or their copy in `copy` when strided.
template <typename T>
const T* unit_stride_values(const MemrefDescriptor<T, 1>* m, std::vector<T>& copy) {
  const T* data = m->aligned + m->offset;
  if (m->strides[0] == 1) return data;
  copy.resize(static_cast<size_t>(m->sizes[0]));
  for (int64_t i = 0; i < m->sizes[0]; ++i) copy[static_cast<size_t>(i)] = data[i * m->strides[0]];
  return copy.data();
}

/// The C interface through which lowered calls (ContractionsToCalls.cc) reach a contraction over
/// `Rank`-D memrefs: descriptors by pointer, the transpose and accumulate flags as i64 (an i1
/// argument from LLVM carries no zero-extension guarantee a C bool relies on). Its address is
/// what jit_kernel_symbols gives the JIT for `_mlir_ciface_kiln_gemm_<t>` and
/// `_mlir_ciface_kiln_batch_gemm_<t>`, float and integer alike.
template <typename T, int Rank,
          void (*Product)(const MemrefDescriptor<T, Rank>*, const MemrefDescriptor<T, Rank>*,
                          MemrefDescriptor<T, Rank>*, bool, bool, bool)>
void contraction_entry(MemrefDescriptor<T, Rank>* a, MemrefDescriptor<T, Rank>* b, MemrefDescriptor<T, Rank>* c,
                       int64_t ta, int64_t tb, int64_t accumulate) {
  Product(a, b, c, ta != 0, tb != 0, accumulate != 0);
}

/// (symbol name, address) of every function compiled code may call.
std::vector<std::pair<std::string, void*>> jit_kernel_symbols();
/// The convolution kernels' share of them (kernels/cpu/jit/conv_calls.cc).
std::vector<std::pair<std::string, void*>> conv_kernel_symbols();
/// The int32/int64 contractions' share of them (kernels/cpu/jit/integer_gemm_calls.cc).
std::vector<std::pair<std::string, void*>> integer_gemm_kernel_symbols();

/// Whether matmuls (float and integer, any rank) call a library GEMM (default) or run as LLVM
/// loops (KILN_COMPILER_GEMM=loops, for comparisons).
bool use_library_gemm();

}  // namespace kiln::kernels::jit
