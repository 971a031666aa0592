// CPU kernel of matmul: kiln::kernels::gemm for float32/float64, kiln::kernels::integer_gemm for
// int32/int64, looped over batch dimensions (over the kernel threads when the products are small).
#include <algorithm>
#include <type_traits>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/integer_gemm.h"
#include "kernels/cpu/parallel_for.h"
#include "kiln/core/op_def.h"

namespace kiln {
namespace {
template <typename T>
void matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out) {
  const int r = a.rank();
  const int64_t ar = a.shape()[r - 2], ac = a.shape()[r - 1];
  const int64_t br = b.shape()[r - 2], bc = b.shape()[r - 1];
  const int64_t m = out.shape()[r - 2], n = out.shape()[r - 1];
  const int64_t k = ta ? ar : ac;
  const int64_t batches = out.num_elements() / std::max<int64_t>(m * n, 1);
  auto one = [&](int64_t i) {
    const T* A = a.data<T>() + i * ar * ac;
    const T* B = b.data<T>() + i * br * bc;
    T* C = out.data<T>() + i * m * n;
    if constexpr (std::is_floating_point_v<T>) {
      kernels::gemm<T>(ta, tb, m, n, k, T(1), A, ac, B, bc, T(0), C, n);
    } else {
      kernels::integer_gemm<T>(ta, tb, m, n, k, A, ac, B, bc, /*accumulate=*/false, C, n);  // Note [Integer GEMM]
    }
  };
  kernels::for_each_product(batches, static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k), one);
}
}  // namespace

void cpu_MatMul(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const MatMulAttrs& a = attrs.as<MatMulAttrs>();
  KILN_DISPATCH_NUMERIC(out.dtype(), T, matmul<T>(in[0], in[1], a.transpose_a, a.transpose_b, out));
}

}  // namespace kiln
