// kiln::kernels::integer_gemm: Eigen's GEMM on int32/int64 (as unsigned), in row (or column)
// panels over the kernel threads.
//
// Note [Integer GEMM]
// Eager integer matmul and compiled code's integer contractions run this one function, so
// compiled results equal eager ones bit for bit. Integer sums are exact modulo 2^bits in any
// order, so splitting the product over threads changes nothing in the result (unlike float
// GEMM, Note [GEMM on Eigen]). Overflow wraps around by definition: the product runs on the
// same bits read as unsigned integers, whose arithmetic C++ defines modulo 2^bits, and two's
// complement makes that the signed result's bits (signed overflow would be undefined behaviour,
// which the compiler may assume away in Eigen's scalar loops). LLVM's loops
// (KILN_COMPILER_GEMM=loops) wrap too (`arith.muli` / `arith.addi` carry no overflow flags).
// Measured (int32, 128x256x256, one thread, kiln-bench --benchmark_filter=IntMatmul_eager at
// autogroup nice -19): Eigen on int32_t as before this note 1.9-2.0 ms, on uint32_t 2.4-2.5 ms,
// on int32_t compiled with -fwrapv 2.3-2.8 ms; int64 the same either way (1.05-1.10 ms). The
// ~20% of int32 is the price of defined results.
#include "kernels/cpu/integer_gemm.h"

#include <Eigen/Core>
#include <algorithm>
#include <type_traits>

#include "kernels/cpu/parallel_for.h"

namespace kiln::kernels {
namespace {

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstView = Eigen::Map<const RowMajor<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using View = Eigen::Map<RowMajor<T>, 0, Eigen::OuterStride<>>;

// Each panel repacks the whole other operand: panels stay at least this long.
constexpr int64_t kMinPanel = 32;

template <typename T, typename Lhs, typename Rhs>
void product_into(View<T> c, const Lhs& lhs, const Rhs& rhs, bool accumulate) {
  if (accumulate) c.noalias() += lhs * rhs;
  else c.noalias() = lhs * rhs;
}

// The block c[i0 : i0 + rows, j0 : j0 + cols] of the product.
template <typename T>
void block(bool ta, bool tb, int64_t i0, int64_t rows, int64_t j0, int64_t cols, int64_t k, const T* a, int64_t lda,
           const T* b, int64_t ldb, bool accumulate, T* c, int64_t ldc) {
  View<T> C(c + i0 * ldc + j0, rows, cols, Eigen::OuterStride<>(ldc));
  // a is stored m x k, or k x m when transposed; b k x n, or n x k.
  ConstView<T> A = ta ? ConstView<T>(a + i0, k, rows, Eigen::OuterStride<>(lda))
                      : ConstView<T>(a + i0 * lda, rows, k, Eigen::OuterStride<>(lda));
  ConstView<T> B = tb ? ConstView<T>(b + j0 * ldb, cols, k, Eigen::OuterStride<>(ldb))
                      : ConstView<T>(b + j0, k, cols, Eigen::OuterStride<>(ldb));
  if (!ta && !tb) product_into(C, A, B, accumulate);
  else if (ta && !tb) product_into(C, A.transpose(), B, accumulate);
  else if (!ta && tb) product_into(C, A, B.transpose(), accumulate);
  else product_into(C, A.transpose(), B.transpose(), accumulate);
}

}  // namespace

template <typename T>
void integer_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a_signed, int64_t lda,
                  const T* b_signed, int64_t ldb, bool accumulate, T* c_signed, int64_t ldc) {
  using U = std::make_unsigned_t<T>;
  const U* a = reinterpret_cast<const U*>(a_signed);
  const U* b = reinterpret_cast<const U*>(b_signed);
  U* c = reinterpret_cast<U*>(c_signed);
  if (m == 0 || n == 0) return;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int64_t threads = num_threads();
  const int64_t longer = std::max(m, n);
  if (macs < kParallelMinMacs || threads == 1 || longer < 2 * kMinPanel) {
    block(ta, tb, 0, m, 0, n, k, a, lda, b, ldb, accumulate, c, ldc);
    return;
  }
  // Panels along c's longer side, twice as many as threads (a descheduled thread leaves its
  // second panel to the others), each one single-threaded Eigen product.
  const int64_t count = std::min(2 * threads, longer / kMinPanel);
  const int64_t size = (longer + count - 1) / count;
  parallel_for(count, [&](int64_t p) {
    const int64_t start = p * size, len = std::min(size, longer - start);
    if (len <= 0) return;
    if (m >= n) block(ta, tb, start, len, 0, n, k, a, lda, b, ldb, accumulate, c, ldc);
    else block(ta, tb, 0, m, start, len, k, a, lda, b, ldb, accumulate, c, ldc);
  });
}

template void integer_gemm<int32_t>(bool, bool, int64_t, int64_t, int64_t, const int32_t*, int64_t, const int32_t*,
                                    int64_t, bool, int32_t*, int64_t);
template void integer_gemm<int64_t>(bool, bool, int64_t, int64_t, int64_t, const int64_t*, int64_t, const int64_t*,
                                    int64_t, bool, int64_t*, int64_t);

}  // namespace kiln::kernels
