// The integer GEMM behind eager int32/int64 matmul (kernels/cpu/matmul.cc) and compiled code's
// integer contractions (kernels/cpu/jit/integer_gemm_calls.cc).
#pragma once
#include <cstdint>

namespace kiln::kernels {

/// c = op(a) * op(b), or c += op(a) * op(b) when `accumulate`, on row-major int32_t / int64_t
/// matrices: op(a) is m x k, op(b) is k x n, c is m x n; op(x) = x^T where the transpose flag is
/// set; lda/ldb/ldc are the row strides (elements) of a, b, c as stored (inner stride 1).
/// Integer arithmetic wraps around (two's complement, modulo 2^32 or 2^64), so every element is
///   c[i,j] = sum_p op(a)[i,p] * op(b)[p,j]  (mod 2^bits)
/// exactly, whatever the summation order: results do not depend on the thread count or on how
/// the product is split. Products of at least 2^21 multiply-adds are split into row panels over
/// the kernel threads (parallel_for.h). Without `accumulate`, c's old contents are ignored.
template <typename T>
void integer_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                  const T* b, int64_t ldb, bool accumulate, T* c, int64_t ldc);

}  // namespace kiln::kernels
