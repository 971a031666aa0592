// CPU kernel of matmul: Eigen's GEMM on row-major maps, looped over batch dimensions.
#include <Eigen/Core>

#include "kiln/core/op_def.h"

namespace kiln {
namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
void matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, const Tensor& out) {
  const int r = a.rank();
  const int64_t ar = a.shape()[r - 2], ac = a.shape()[r - 1];
  const int64_t br = b.shape()[r - 2], bc = b.shape()[r - 1];
  const int64_t m = out.shape()[r - 2], n = out.shape()[r - 1];
  const int64_t batches = out.num_elements() / std::max<int64_t>(m * n, 1);
  for (int64_t i = 0; i < batches; ++i) {
    Eigen::Map<const RowMajor<T>> A(a.data<T>() + i * ar * ac, ar, ac);
    Eigen::Map<const RowMajor<T>> B(b.data<T>() + i * br * bc, br, bc);
    Eigen::Map<RowMajor<T>> C(out.data<T>() + i * m * n, m, n);
    if (!ta && !tb) C.noalias() = A * B;
    else if (ta && !tb) C.noalias() = A.transpose() * B;
    else if (!ta && tb) C.noalias() = A * B.transpose();
    else C.noalias() = A.transpose() * B.transpose();
  }
}
}  // namespace

void cpu_MatMul(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  KILN_DISPATCH_NUMERIC(out.dtype(), T, matmul<T>(in[0], in[1], attrs.b0, attrs.b1, out));
}

}  // namespace kiln
