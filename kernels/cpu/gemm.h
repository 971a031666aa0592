// One GEMM entry for every contraction on the CPU: eager matmul, conv2d (im2col), and the
// compiled code's library calls (compiler/kiln/compiler/JitKernels.cc).
#pragma once
#include <cstdint>

namespace kiln::kernels {

/// c = alpha * op(a) * op(b) + beta * c on row-major matrices, BLAS-style: op(a) is m x k, op(b)
/// is k x n, c is m x n; op(x) = x^T where the transpose flag is set; lda/ldb/ldc are the row
/// strides (elements) of a, b, c as stored. beta = 0 overwrites c (its old contents, NaN included,
/// are ignored). Defined for float and double.
template <typename T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace kiln::kernels
