// kiln::kernels::gemm: Eigen's single-threaded GEMM on panels of the product, spread over the
// kernel threads (Note [GEMM on Eigen]).
#include "kernels/cpu/gemm.h"

#include <Eigen/Core>
#include <algorithm>
#include <memory>
#include <new>
#include <type_traits>

#include "kernels/cpu/parallel_for.h"
#include "kiln/error.h"

// Note [GEMM on Eigen]
// Measured on this machine (2-core AMD EPYC with AVX-512, shared with other builds; GFLOP/s,
// medians, the benchmark in its own session at autogroup nice -19 so that other tenants did not
// take the second core; CNN shapes at batch 128 and 1000, kiln-bench --benchmark_filter=Gemm):
// - One thread. Eigen 3.4's GEMM compiled with -march=native runs AVX-512 kernels: 100-130 at the
//   dense shapes (but 55 for [1000,500] x [20000,500]^T as one product), 36-88 at the im2col
//   ones. Debian's OpenBLAS 0.3.21 as this machine's environment sets it up
//   (OPENBLAS_CORETYPE=Haswell: AVX2 kernels): 82-97 and 53-71; its SkylakeX kernels would run
//   125-176, but only by overriding that setting. BLIS 0.9 does not know this CPU (generic
//   kernels: 13-30); forced to its skx kernels: 74-170 (28-40 at the thinnest shapes).
// - Two threads, each library's own threading (which synchronises within one product):
//   Eigen+OpenMP 38-215, Eigen's Tensor contraction on a thread pool 23-212 (23 for
//   [128,500] x [20000,500]^T), OpenBLAS (Haswell; pthreads or OpenMP) 20-176, BLIS (skx) 0-302
//   ([128,500] x [500,10] at 0-41). With other processes running, Eigen+OpenMP fell to
//   0.1-6 at the smaller shapes: a descheduled thread stalls the others at every barrier.
// So gemm spreads the work itself, over parallel_for's one pool (Note [Kernel threads]), as
// independent pieces, each one call of Eigen's single-threaded GEMM (two threads: 158-235 at
// batch 128, 168-245 at batch 1000, against 88-129 on one; docs/performance.md "GEMM" has the
// table):
// - Row panels (column panels when n > m) of at most kPanel rows, as many as a multiple of the
//   thread count; with more panels than threads, a thread that was descheduled leaves its
//   panels to the others. Each panel repacks the whole other operand, which is why the split
//   runs along C's longer side. On one thread (thread CPU time), panels of 512 to 2048 rows ran
//   within ~5% of the whole product at every CNN shape.
// - A small C with m > n and a long k (the conv filter gradient [500, B*400] x [B*400, 50]) is
//   split along k instead: each chunk of k writes its own column-major partial product, and the
//   partials are summed in chunk order. Eigen's kernels run such a product far better with C
//   column-major (C's long side as their rows): one thread ~90 GFLOP/s against ~59 on the whole.
//   With m < n (dense forward [128, 20000] x [20000, 500]) row-major partials gained nothing on
//   column panels (95 against 118 on one thread, 179 against 221 on two), so it takes those.
// - Products below kParallelMinMacs multiply-adds run directly on the calling thread: waking a
//   worker costs more than they take, and the iris example's 16x4x20 stays at Eigen's ~100 ns.
// Results are deterministic: the panels and chunks depend only on the shape and num_threads(),
// never on which thread runs which, and partials are summed in a fixed order. They may differ in
// the last bits between thread counts (a different k split), and between one GEMM and the same
// numbers in a different shape.
//
// Note [GEMM buffers]
// Eigen's product expression allocates its packing buffers on every call: on the stack up to
// 128 KB, with malloc above. glibc hands a freed block at the top of its heap back to the kernel
// once it passes M_TRIM_THRESHOLD (128 KB, until some large free raises it), so each call
// page-faulted its buffers in again: [128,500] x [500,500] ran at 20-27 GFLOP/s in a fresh process
// (perf stat: 7672 page faults against 784 for a shape just under the limit) and at 115-135 once
// an unrelated large free had raised the threshold. So gemm calls Eigen's GEMM routine
// (internal::general_matrix_matrix_product) itself, with Eigen's own blocking sizes and packing
// buffers that belong to the calling thread, allocated once and grown as needed (a few MB per
// thread at most, the panels bounding them). These are Eigen 3.4 internals: an Eigen whose
// internals changed fails to compile this file rather than running slower.
static_assert(EIGEN_VERSION_AT_LEAST(3, 4, 0), "gemm.cc calls Eigen 3.4's internal GEMM routine");

namespace kiln::kernels {
namespace {

constexpr int64_t kPanel = 1024;
constexpr int64_t kDepthChunk = 8192;
constexpr int64_t kDepthSplitMaxOutput = 1 << 16;

template <typename T, int Order>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>;
template <typename T>
using ConstRowMajorView = Eigen::Map<const Matrix<T, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
template <typename T>
using RowMajorView = Eigen::Map<Matrix<T, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;

// This thread's packing buffers for Eigen's GEMM (Note [GEMM buffers]): grown to the largest
// size asked for, kept until the thread ends.
template <typename T>
T* packing_buffer(int which, Eigen::Index size) {
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  struct Buffers {
    std::unique_ptr<T[], Free> data[2];
    Eigen::Index size[2] = {0, 0};
  };
  thread_local Buffers buffers;
  if (buffers.size[which] < size) {
    buffers.data[which].reset(static_cast<T*>(::operator new[](size * sizeof(T), std::align_val_t(64))));
    buffers.size[which] = size;
  }
  return buffers.data[which].get();
}

// Eigen's blocking sizes for one thread (its own heuristic, as gemm_blocking_space computes them)
// with packing_buffer's memory. rows x cols x depth is the product in Eigen's column-major form.
template <typename T>
class ReusedBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  ReusedBlocking(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) {
    this->m_mc = rows;
    this->m_nc = cols;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(this->m_kc, this->m_mc, this->m_nc, Eigen::Index(1));
    this->m_blockA = packing_buffer<T>(0, this->m_mc * this->m_kc);
    this->m_blockB = packing_buffer<T>(1, this->m_kc * this->m_nc);
  }
};

// c += alpha op(a) op(b) on Eigen's GEMM kernels, c of storage order ResOrder; m, n > 1.
template <typename T, int ResOrder>
void add_product(bool ta, bool tb, Eigen::Index m, Eigen::Index n, Eigen::Index k, T alpha, const T* a,
                 Eigen::Index lda, const T* b, Eigen::Index ldb, T* c, Eigen::Index ldc) {
  using Eigen::ColMajor, Eigen::RowMajor, Eigen::Index;
  // A row-major c is computed as the column-major c^T = op(b)^T op(a)^T: Eigen's blocking is
  // for that form (as in its gemm_blocking_space).
  ReusedBlocking<T> blocking(ResOrder == RowMajor ? n : m, ResOrder == RowMajor ? m : n, k);
  auto run = [&]<int LhsOrder, int RhsOrder>() {
    Eigen::internal::general_matrix_matrix_product<Index, T, LhsOrder, false, T, RhsOrder, false, ResOrder, 1>::run(
        m, n, k, a, lda, b, ldb, c, 1, ldc, alpha, blocking, nullptr);
  };
  // op(a) of a row-major a is row-major, a^T column-major with the same stride; so for b.
  if (!ta && !tb) run.template operator()<RowMajor, RowMajor>();
  else if (ta && !tb) run.template operator()<ColMajor, RowMajor>();
  else if (!ta && tb) run.template operator()<RowMajor, ColMajor>();
  else run.template operator()<ColMajor, ColMajor>();
}

// c = alpha op(a) op(b) + beta c on this thread, with c a row- or column-major matrix map.
template <typename T, typename C>
void product_on_eigen(C&& c, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                      int64_t lda, const T* b, int64_t ldb, T beta) {
  // beta = 0 assigns, so c's old contents (NaN included) never reach the result. Zeroed row by
  // row with fill_n: Eigen's setZero on a map with a run-time stride took ~90 ns of the iris
  // example's 16x4x20 product.
  if (beta == T(0)) {
    const Eigen::Index outer = c.outerSize(), inner = c.innerSize(), stride = c.outerStride();
    if (stride == inner) std::fill_n(c.data(), outer * inner, T(0));
    else
      for (Eigen::Index i = 0; i < outer; ++i) std::fill_n(c.data() + i * stride, inner, T(0));
  } else if (beta != T(1)) {
    c *= beta;
  }
  if (k == 0) return;
  // Vectors and tiny products: Eigen's own product expression (GEMV, or its coefficient-based
  // product under EIGEN_GEMM_TO_COEFFBASED_THRESHOLD), which packs nothing.
  if (m == 1 || n == 1 || m + n + k < 20) {
    ConstRowMajorView<T> A(a, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
    ConstRowMajorView<T> B(b, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
    if (!ta && !tb) c.noalias() += alpha * A * B;
    else if (ta && !tb) c.noalias() += alpha * A.transpose() * B;
    else if (!ta && tb) c.noalias() += alpha * A * B.transpose();
    else c.noalias() += alpha * A.transpose() * B.transpose();
    return;
  }
  constexpr int order = std::remove_reference_t<C>::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor;
  add_product<T, order>(ta, tb, m, n, k, alpha, a, lda, b, ldb, c.data(), c.outerStride());
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

// Small C with m > n, long k: column-major partial products per chunk of k, summed in chunk
// order.
template <typename T>
void gemm_split_depth(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                      const T* b, int64_t ldb, T beta, T* c, int64_t ldc, int threads) {
  using ColMajorView = Eigen::Map<Matrix<T, Eigen::ColMajor>>;
  const Pieces chunks = split(k, kDepthChunk, threads);
  const int64_t mn = m * n;
  std::unique_ptr<T[]> partials(new T[chunks.count * mn]);
  parallel_for(chunks.count, [&](int64_t i) {
    const int64_t k0 = chunks.begin(i), kc = std::min(chunks.size, k - k0);
    product_on_eigen(ColMajorView(partials.get() + i * mn, m, n), ta, tb, m, n, kc, T(1), ta ? a + k0 * lda : a + k0,
                     lda, tb ? b + k0 : b + k0 * ldb, ldb, T(0));
  });
  ColMajorView sum(partials.get(), m, n);
  for (int64_t i = 1; i < chunks.count; ++i) sum += ColMajorView(partials.get() + i * mn, m, n);
  RowMajorView<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) C = alpha * sum;
  else C = alpha * sum + beta * C;
}

}  // namespace

template <typename T>
void apply_epilogue(const GemmEpilogue<T>& epilogue, int64_t rows, int64_t cols, T* c, int64_t ldc) {
  if (epilogue.empty()) return;
  const T* bias = epilogue.bias;
  // Four loop forms, so that each inner loop is one plain vectorizable pass.
  for (int64_t i = 0; i < rows; ++i) {
    T* row = c + i * ldc;
    if (bias != nullptr && epilogue.relu) {
      for (int64_t j = 0; j < cols; ++j) {
        const T v = bias[j] + row[j];
        row[j] = v > T(0) ? v : T(0);
      }
    } else if (bias != nullptr) {
      for (int64_t j = 0; j < cols; ++j) row[j] = bias[j] + row[j];
    } else {
      for (int64_t j = 0; j < cols; ++j) row[j] = row[j] > T(0) ? row[j] : T(0);
    }
  }
}

template <typename T>
void gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc, GemmEpilogue<T> epilogue) {
  KILN_ASSERT(m >= 0 && n >= 0 && k >= 0, "gemm sizes are non-negative");
  KILN_ASSERT(lda >= (transpose_a ? m : k) && ldb >= (transpose_b ? k : n) && ldc >= n,
              "gemm leading dimensions cover a row");
  // Read (and checked) on every call, small ones too: a bad KILN_NUM_THREADS is a kiln::Error at
  // the program's first matmul, whatever its sizes (one relaxed atomic load after that).
  const int threads = num_threads();
  if (m == 0 || n == 0) return;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (macs < kParallelMinMacs) {
    gemm_on_this_thread(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    apply_epilogue(epilogue, m, n, c, ldc);
    return;
  }
  // The epilogue runs on each panel right after its product, by the thread that computed it.
  if (m > n && m * n <= kDepthSplitMaxOutput && k >= 4 * std::max(m, n)) {
    gemm_split_depth(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
    apply_epilogue(epilogue, m, n, c, ldc);
  } else if (m >= n) {
    const Pieces rows = split(m, kPanel, threads);
    parallel_for(rows.count, [&](int64_t i) {
      const int64_t r0 = rows.begin(i), mr = std::min(rows.size, m - r0);
      gemm_on_this_thread(transpose_a, transpose_b, mr, n, k, alpha, transpose_a ? a + r0 : a + r0 * lda, lda, b,
                          ldb, beta, c + r0 * ldc, ldc);
      apply_epilogue(epilogue, mr, n, c + r0 * ldc, ldc);
    });
  } else {
    const Pieces cols = split(n, kPanel, threads);
    parallel_for(cols.count, [&](int64_t i) {
      const int64_t c0 = cols.begin(i), nc = std::min(cols.size, n - c0);
      gemm_on_this_thread(transpose_a, transpose_b, m, nc, k, alpha, a, lda, transpose_b ? b + c0 * ldb : b + c0,
                          ldb, beta, c + c0, ldc);
      apply_epilogue({epilogue.bias != nullptr ? epilogue.bias + c0 : nullptr, epilogue.relu}, m, nc, c + c0, ldc);
    });
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t, GemmEpilogue<float>);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t, GemmEpilogue<double>);
template void apply_epilogue<float>(const GemmEpilogue<float>&, int64_t, int64_t, float*, int64_t);
template void apply_epilogue<double>(const GemmEpilogue<double>&, int64_t, int64_t, double*, int64_t);

}  // namespace kiln::kernels
