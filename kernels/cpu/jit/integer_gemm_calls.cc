// IntegerGemmKernels: the int32/int64 contractions compiled code calls (kiln_gemm_<i32|i64>,
// kiln_batch_gemm_<i32|i64>, rewritten from linalg.matmul / batch_matmul and their transposed forms
// by ContractionsToCalls.cc), on kiln::kernels::integer_gemm, the kernel eager integer matmul runs
// (Note [Integer GEMM] in kernels/cpu/integer_gemm.cc): compiled results equal eager's exactly,
// overflow wrapping around as there.
#include <cstdint>
#include <vector>

#include "kernels/cpu/integer_gemm.h"
#include "kernels/cpu/parallel_for.h"
#include "kernels/cpu/jit/jit_abi.h"

namespace kiln::kernels::jit {
namespace {

template <typename T>
using Memref2 = MemrefDescriptor<T, 2>;

// A 2-D memref's rows at unit inner stride: the memref itself (first element, row stride), or a
// dense copy of it in `copy` (a transposed view's slice: rare).
template <typename T>
struct UnitStride {
  T* data;
  int64_t ld;
};
template <typename T>
UnitStride<T> unit_stride(const Memref2<T>* m, std::vector<T>& copy) {
  T* data = m->aligned + m->offset;
  if (m->strides[1] == 1) return {data, m->strides[0]};
  const int64_t rows = m->sizes[0], cols = m->sizes[1];
  copy.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) copy[static_cast<size_t>(i * cols + j)] = data[i * m->strides[0] + j * m->strides[1]];
  return {copy.data(), cols};
}

// c = op(a) * op(b) (c += ... when `accumulate`), op = transpose where ta / tb (as
// linalg.matmul_transpose_a/_b).
template <typename T>
void gemm(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb, bool accumulate) {
  const int64_t m = c->sizes[0], n = c->sizes[1], k = ta ? a->sizes[0] : a->sizes[1];
  if (m == 0 || n == 0) return;
  std::vector<T> a_copy, b_copy, c_copy;
  const UnitStride<T> A = unit_stride(a, a_copy), B = unit_stride(b, b_copy);
  // A c with a non-unit inner stride is computed in a dense copy (holding its values when
  // accumulating) and written back.
  const UnitStride<T> C = unit_stride(c, c_copy);
  kernels::integer_gemm<T>(ta, tb, m, n, k, A.data, A.ld, B.data, B.ld, accumulate, C.data, C.ld);
  if (c->strides[1] == 1) return;
  T* out = c->aligned + c->offset;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) out[i * c->strides[0] + j * c->strides[1]] = c_copy[static_cast<size_t>(i * n + j)];
}

// c[i] = op(a[i]) * op(b[i]) (c[i] += ... when `accumulate`) for each batch entry i of [batch,
// rows, cols] buffers: one integer_gemm per entry, shared out over the threads as eager matmul
// does (kernels::for_each_product).
template <typename T>
void batch_gemm(const MemrefDescriptor<T, 3>* a, const MemrefDescriptor<T, 3>* b, MemrefDescriptor<T, 3>* c, bool ta,
                bool tb, bool accumulate) {
  auto one = [&](int64_t i) {
    const Memref2<T> ai = batch_entry(a, i), bi = batch_entry(b, i);
    Memref2<T> ci = batch_entry(c, i);
    gemm(&ai, &bi, &ci, ta, tb, accumulate);
  };
  const double macs = static_cast<double>(c->sizes[1]) * static_cast<double>(c->sizes[2]) *
                      static_cast<double>(ta ? a->sizes[1] : a->sizes[2]);
  kernels::for_each_product(c->sizes[0], macs, one);
}

}  // namespace

std::vector<std::pair<std::string, void*>> integer_gemm_kernel_symbols() {
  return {{"_mlir_ciface_kiln_gemm_i32", reinterpret_cast<void*>(&contraction_entry<int32_t, 2, &gemm<int32_t>>)},
          {"_mlir_ciface_kiln_gemm_i64", reinterpret_cast<void*>(&contraction_entry<int64_t, 2, &gemm<int64_t>>)},
          {"_mlir_ciface_kiln_batch_gemm_i32",
           reinterpret_cast<void*>(&contraction_entry<int32_t, 3, &batch_gemm<int32_t>>)},
          {"_mlir_ciface_kiln_batch_gemm_i64",
           reinterpret_cast<void*>(&contraction_entry<int64_t, 3, &batch_gemm<int64_t>>)}};
}

}  // namespace kiln::kernels::jit
