// One GEMM entry for every contraction on the CPU: eager matmul, conv2d (im2col), and the
// compiled code's library calls (kernels/cpu/jit/gemm_calls.cc).
#pragma once
#include <cstdint>

namespace kiln::kernels {

/// What gemm applies to each element of c once its product is complete, while the block of c is
/// still in cache (compiled code's contraction epilogues, Note [Contraction epilogues] in
/// compiler/kiln/compiler/passes/ContractionsToCalls.cc):
///   c[i,j] = bias[j] + c[i,j]          when `bias` (n values, unit stride) is given
///   c[i,j] = c[i,j] > 0 ? c[i,j] : 0   then, when `relu` (NaN gives 0, as eager relu)
/// Each step rounds as the separate elementwise op does, so results equal the unfused ops'.
template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;
  bool relu = false;
  bool empty() const { return bias == nullptr && !relu; }
};

/// c = alpha * op(a) * op(b) + beta * c on row-major matrices, BLAS-style, then `epilogue`:
/// op(a) is m x k, op(b) is k x n, c is m x n; op(x) = x^T where the transpose flag is set;
/// lda/ldb/ldc are the row strides (elements) of a, b, c as stored. beta = 0 overwrites c (its
/// old contents, NaN included, are ignored). Defined for float and double.
template <typename T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, GemmEpilogue<T> epilogue = {});

/// Applies `epilogue` to rows x cols of c (row stride ldc), `bias` already offset to c's first
/// column: what gemm does to each finished block, for callers with products of their own.
template <typename T>
void apply_epilogue(const GemmEpilogue<T>& epilogue, int64_t rows, int64_t cols, T* c, int64_t ldc);

}  // namespace kiln::kernels
