// kiln::kernels::gemm: Eigen's single-threaded GEMM on panels of the product, spread over the
// kernel threads (Note [GEMM on Eigen]).
#include "kernels/cpu/gemm.h"

#include <Eigen/Core>
#include <algorithm>
#include <memory>

#include "kernels/cpu/parallel_for.h"
#include "kiln/error.h"

// Note [GEMM on Eigen]
// Measured on this machine (2-core AMD EPYC with AVX-512, shared; medians of thread CPU time,
// the throwaway program and the table are in the commit that added this note and in kiln-bench's
// BM_Gemm): Eigen 3.4's GEMM compiled with -march=native runs its AVX-512 kernels at 115-135
// GFLOP/s on one core at the CNN's dense shapes, ahead of Debian's OpenBLAS 0.3.21 as this
// machine's environment configures it (OPENBLAS_CORETYPE=Haswell: AVX2 kernels, 85-97) and of
// BLIS 0.9 (its generic kernels on this CPU, which it does not know). Eigen's own threading
// (OpenMP) and Tensor contraction on a thread pool, and OpenBLAS's and BLIS's threads, all
// synchronise often within one product; on this shared 2-core machine a descheduled thread then
// stalls the others (Eigen+OpenMP fell to 0.1-30 GFLOP/s under load). So Kiln spreads the work
// itself, over parallel_for's one pool (Note [Kernel threads]), as independent panels of C, each
// one call of Eigen's single-threaded GEMM:
// - Row panels (column panels when n > m) of at most kPanel rows, as many as a multiple of the
//   thread count. Each panel repacks the whole other operand, which is why the split runs along
//   C's longer side. Panels also help one thread: Eigen's blocking of a tall, thin product
//   (im2col's [B*400, 500] x [500, 50]) runs ~90 GFLOP/s on the whole and ~120 on 2048-row panels.
// - A small C with a long k (dense forward [128, 20000] x [20000, 500], conv filter gradient
//   [500, B*400] x [B*400, 50]) is split along k instead: each chunk of k writes its own partial
//   product, and the partials are summed in chunk order. The partials are column-major when
//   m > n, because Eigen's kernels run best with C's longer side as their rows (conv filter
//   gradient: ~90 GFLOP/s against ~58).
// - Products below kParallelMinMacs multiply-adds run directly on the calling thread: waking a
//   worker costs more than they take, and the iris example's 16x4x20 stays at Eigen's ~100 ns.
// Results are deterministic: the panels and chunks depend only on the shape and num_threads(),
// never on which thread runs which, and partials are summed in a fixed order. They may differ in
// the last bits between thread counts (a different k split), and between one GEMM and the same
// numbers in a different shape.
namespace kiln::kernels {
namespace {

constexpr double kParallelMinMacs = 1 << 21;
constexpr int64_t kPanel = 2048;
constexpr int64_t kDepthChunk = 8192;
constexpr int64_t kDepthSplitMaxOutput = 1 << 16;

template <typename T, int Order>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>;
template <typename T>
using ConstRowMajorView = Eigen::Map<const Matrix<T, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
template <typename T>
using RowMajorView = Eigen::Map<Matrix<T, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;

// c = alpha op(a) op(b) + beta c on this thread, with c any Eigen matrix view.
template <typename T, typename C>
void product_on_eigen(C&& c, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                      int64_t lda, const T* b, int64_t ldb, T beta) {
  if (k == 0) {
    if (beta == T(0)) c.setZero();
    else if (beta != T(1)) c *= beta;
    return;
  }
  ConstRowMajorView<T> A(a, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  ConstRowMajorView<T> B(b, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  // beta = 0 assigns, so c's old contents (NaN included) never reach the result.
  auto assign = [&](const auto& product) {
    if (beta == T(0)) {
      c.noalias() = alpha * product;
    } else {
      if (beta != T(1)) c *= beta;
      c.noalias() += alpha * product;
    }
  };
  if (!ta && !tb) assign(A * B);
  else if (ta && !tb) assign(A.transpose() * B);
  else if (!ta && tb) assign(A * B.transpose());
  else assign(A.transpose() * B.transpose());
}

template <typename T>
void gemm_on_this_thread(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                         const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  product_on_eigen(RowMajorView<T>(c, m, n, Eigen::OuterStride<>(ldc)), ta, tb, m, n, k, alpha, a, lda, b, ldb,
                   beta);
}

// `count` pieces of about equal size, a multiple of 16 each (the last one shorter), covering
// `size`: at least `min_count` pieces (rounded up to a multiple of `threads`), each at most `most`.
struct Pieces {
  int64_t size, count;
  int64_t begin(int64_t i) const { return i * size; }
};
Pieces split(int64_t extent, int64_t most, int threads) {
  int64_t count = std::max<int64_t>((extent + most - 1) / most, threads);
  count = (count + threads - 1) / threads * threads;
  int64_t size = (extent + count - 1) / count;
  size = (size + 15) / 16 * 16;
  return {size, (extent + size - 1) / size};
}

// Small C, long k: partial products per chunk of k, summed in chunk order.
template <typename T>
void gemm_split_depth(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                      const T* b, int64_t ldb, T beta, T* c, int64_t ldc, int threads) {
  const Pieces chunks = split(k, kDepthChunk, threads);
  const int64_t mn = m * n;
  std::unique_ptr<T[]> partials(new T[chunks.count * mn]);
  const bool column_major = m > n;
  parallel_for(chunks.count, [&](int64_t i) {
    const int64_t k0 = chunks.begin(i), kc = std::min(chunks.size, k - k0);
    const T* ai = ta ? a + k0 * lda : a + k0;
    const T* bi = tb ? b + k0 : b + k0 * ldb;
    if (column_major)
      product_on_eigen(Eigen::Map<Matrix<T, Eigen::ColMajor>>(partials.get() + i * mn, m, n), ta, tb, m, n, kc, T(1),
                       ai, lda, bi, ldb, T(0));
    else
      product_on_eigen(Eigen::Map<Matrix<T, Eigen::RowMajor>>(partials.get() + i * mn, m, n), ta, tb, m, n, kc, T(1),
                       ai, lda, bi, ldb, T(0));
  });
  auto finish = [&](auto sum) {
    for (int64_t i = 1; i < chunks.count; ++i) sum += decltype(sum)(partials.get() + i * mn, m, n);
    RowMajorView<T> C(c, m, n, Eigen::OuterStride<>(ldc));
    if (beta == T(0)) C = alpha * sum;
    else C = alpha * sum + beta * C;
  };
  if (column_major) finish(Eigen::Map<Matrix<T, Eigen::ColMajor>>(partials.get(), m, n));
  else finish(Eigen::Map<Matrix<T, Eigen::RowMajor>>(partials.get(), m, n));
}

}  // namespace

template <typename T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  KILN_ASSERT(m >= 0 && n >= 0 && k >= 0, "gemm sizes are non-negative");
  KILN_ASSERT(lda >= (transpose_a ? m : k) && ldb >= (transpose_b ? k : n) && ldc >= n,
              "gemm leading dimensions cover a row");
  if (m == 0 || n == 0) return;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (macs < kParallelMinMacs) {
    gemm_on_this_thread(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int threads = num_threads();
  if (m * n <= kDepthSplitMaxOutput && k >= 4 * std::max(m, n)) {
    gemm_split_depth(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
  } else if (m >= n) {
    const Pieces rows = split(m, kPanel, threads);
    parallel_for(rows.count, [&](int64_t i) {
      const int64_t r0 = rows.begin(i), mr = std::min(rows.size, m - r0);
      gemm_on_this_thread(transpose_a, transpose_b, mr, n, k, alpha, transpose_a ? a + r0 : a + r0 * lda, lda, b,
                          ldb, beta, c + r0 * ldc, ldc);
    });
  } else {
    const Pieces cols = split(n, kPanel, threads);
    parallel_for(cols.count, [&](int64_t i) {
      const int64_t c0 = cols.begin(i), nc = std::min(cols.size, n - c0);
      gemm_on_this_thread(transpose_a, transpose_b, m, nc, k, alpha, a, lda, transpose_b ? b + c0 * ldb : b + c0,
                          ldb, beta, c + c0, ldc);
    });
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace kiln::kernels
