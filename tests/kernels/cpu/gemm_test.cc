// kiln::kernels::gemm against a plain triple loop: the four transpose forms, alpha and beta
// (beta = 0 over NaN), leading dimensions wider than the rows, zero sizes, float and double,
// shapes on both sides of the threading threshold and in each way it splits work, 1 to 3 threads;
// its bias + relu epilogue against the same product followed by plain loops.
#include "kernels/cpu/gemm.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/parallel_for.h"
#include "tests/kernels/cpu/thread_count.h"

namespace kiln::test {
namespace {

struct Case {
  bool ta, tb;
  int64_t m, n, k;
  double alpha, beta;
  int64_t pad;  // extra elements at the end of every row of a, b and c
  std::string str() const {
    return std::string(ta ? "a^T " : "a ") + (tb ? "b^T " : "b ") + std::to_string(m) + "x" + std::to_string(n) + "x" +
           std::to_string(k) + " alpha " + std::to_string(alpha) + " beta " + std::to_string(beta) + " pad " +
           std::to_string(pad);
  }
};

constexpr double kPadding = 12345.0;  // what c's padding holds before and after

template <typename T>
void check(const Case& cs, uint32_t seed = 1) {
  SCOPED_TRACE(cs.str() + (sizeof(T) == 4 ? " float" : " double"));
  const auto [ta, tb, m, n, k, alpha, beta, pad] = cs;
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  const int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::vector<T> a(ar * lda + 1), b(br * ldb + 1), c(m * ldc + 1, T(kPadding));
  for (T& x : a) x = T(uniform(rng));
  for (T& x : b) x = T(uniform(rng));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? std::numeric_limits<T>::quiet_NaN() : T(uniform(rng));
  const std::vector<T> c0 = c;

  kernels::gemm<T>(ta, tb, m, n, k, T(alpha), a.data(), lda, b.data(), ldb, T(beta), c.data(), ldc);

  // Every order of summing k products is within (k + 2) eps of sum |terms| of the exact value.
  const double eps = std::numeric_limits<T>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      long double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < k; ++p) {
        const long double x = ta ? a[p * lda + i] : a[i * lda + p];
        const long double y = tb ? b[j * ldb + p] : b[p * ldb + j];
        sum += x * y;
        magnitude += std::fabs(x * y);
      }
      const long double old = beta == 0 ? 0 : static_cast<long double>(beta) * c0[i * ldc + j];
      const long double expected = alpha * sum + old;
      const double bound = (k + 2) * eps * static_cast<double>(std::fabs(alpha) * magnitude + std::fabs(old)) + 1e-300;
      const double got = c[i * ldc + j];
      if (!(std::fabs(got - static_cast<double>(expected)) <= bound) && ++bad <= 5)
        ADD_FAILURE() << "c[" << i << "," << j << "] = " << got << ", expected " << static_cast<double>(expected)
                      << " (bound " << bound << ")";
    }
    for (int64_t j = n; j < ldc; ++j)
      if (c[i * ldc + j] != T(kPadding) && ++bad <= 5) ADD_FAILURE() << "padding c[" << i << "," << j << "] written";
  }
  EXPECT_EQ(c.back(), T(kPadding)) << "wrote past c";
  EXPECT_EQ(bad, 0);
}

template <typename T>
void check_every_form(int64_t m, int64_t n, int64_t k) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check<T>({ta, tb, m, n, k, 1.0, 0.0, 0});
      check<T>({ta, tb, m, n, k, -0.5, 0.25, 3});
      check<T>({ta, tb, m, n, k, 2.0, 1.0, 1});
    }
}

TEST(Gemm, SmallProductsMatchTheTripleLoop) {
  for (auto [m, n, k] : {std::array<int64_t, 3>{1, 1, 1}, {2, 3, 4}, {16, 20, 4}, {7, 5, 3}, {33, 17, 65}}) {
    check_every_form<float>(m, n, k);
    check_every_form<double>(m, n, k);
  }
}

TEST(Gemm, ZeroSizes) {
  for (double beta : {0.0, 2.0}) {
    check<float>({false, false, 0, 5, 3, 1.0, beta, 0});
    check<float>({false, true, 4, 0, 3, 1.0, beta, 2});
    // k = 0: c = beta c (beta = 0 clears c, NaN included).
    check<float>({false, false, 4, 5, 0, 1.0, beta, 0});
    check<double>({true, true, 4, 5, 0, 1.0, beta, 1});
  }
}

// 2^21 multiply-adds is the threshold below which gemm runs on the calling thread (gemm.cc).
TEST(Gemm, BothSidesOfTheThreadingThreshold) {
  ThreadCount two(2);
  for (int64_t k : {127, 129}) {  // 128 x 128 x k: 2.08M and 2.11M multiply-adds
    check_every_form<float>(128, 128, k);
    check<double>({true, false, 128, 128, k, 1.0, 0.0, 2});
  }
}

// Large products in each split gemm.cc makes, with 1, 2 and 3 threads (3: panel counts rounded
// to a multiple of 3, the last panel shorter).
TEST(Gemm, LargeProductsInEverySplit) {
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {
      {5000, 24, 20},  // row panels, several of them (at most 2048 rows each), a short last one
      {24, 5000, 20},  // column panels
      {300, 200, 100},  // m >= n: two or three row panels
      {24, 20, 6007},   // small c with m > n, long k: chunks of k
      {20, 24, 6007},   // m < n: column panels, however long k
  };
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ThreadCount count(threads);
    for (const Shape& s : shapes) {
      check_every_form<float>(s.m, s.n, s.k);
      check<double>({false, true, s.m, s.n, s.k, 1.0, 0.0, 0});
      check<double>({true, false, s.m, s.n, s.k, -0.5, 0.25, 2});
    }
  }
}

// Two calls with the same inputs give the same bits, whichever thread computed which panel.
TEST(Gemm, RepeatedCallsAreBitwiseEqual) {
  ThreadCount two(2);
  for (auto [m, n, k] : {std::array<int64_t, 3>{4000, 40, 300}, {30, 20, 20000}, {64, 3000, 64}}) {
    std::vector<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
    kernels::gemm<float>(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c1.data(), n);
    for (int repeat = 0; repeat < 3; ++repeat) {
      kernels::gemm<float>(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c2.data(), n);
      EXPECT_EQ(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)), 0) << m << "x" << n << "x" << k;
    }
  }
}

// The epilogue (GemmEpilogue: bias[j] + c[i,j], then x > 0 ? x : 0) applied by each panel's
// thread equals the plain product followed by the two loops, to the bit, in every split: row
// panels, column panels (the bias offset by the panel's first column), chunks of k, one thread.
// A row of a with a NaN gives NaN products (relu: 0), a zero row gives exact zeros plus the bias,
// a zero bias gives relu's input exactly 0, a NaN bias NaN for a whole column.
template <typename T>
void check_epilogue(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t ldc) {
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  std::mt19937 rng(static_cast<uint32_t>(m * 31 + n * 7 + k));
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::vector<T> a(ar * ac), b(br * bc), bias(n);
  for (T& x : a) x = T(uniform(rng));
  for (T& x : b) x = T(uniform(rng));
  for (T& x : bias) x = T(uniform(rng));
  auto a_at = [&](int64_t i, int64_t p) -> T& { return ta ? a[p * ac + i] : a[i * ac + p]; };
  for (int64_t p = 0; p < k; ++p) a_at(1, p) = T(0);
  a_at(0, k / 2) = std::numeric_limits<T>::quiet_NaN();
  bias[1] = T(0);
  bias[n - 1] = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> plain(m * ldc, T(kPadding));
  kernels::gemm<T>(ta, tb, m, n, k, T(1), a.data(), ac, b.data(), bc, T(0), plain.data(), ldc);
  for (auto [with_bias, relu] : {std::pair{true, false}, std::pair{true, true}, std::pair{false, true}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + (ta ? " a^T" : "") +
                 (tb ? " b^T" : "") + (with_bias ? " bias" : "") + (relu ? " relu" : ""));
    std::vector<T> fused(m * ldc, T(kPadding));
    kernels::gemm<T>(ta, tb, m, n, k, T(1), a.data(), ac, b.data(), bc, T(0), fused.data(), ldc,
                     kernels::GemmEpilogue<T>{with_bias ? bias.data() : nullptr, relu});
    int64_t bad = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        T want = plain[i * ldc + j];
        if (j < n) {
          if (with_bias) want = bias[j] + want;
          if (relu) want = want > T(0) ? want : T(0);
        }
        const T got = fused[i * ldc + j];
        const bool same = std::isnan(want) ? std::isnan(got) : std::memcmp(&got, &want, sizeof(T)) == 0;
        if (!same && ++bad <= 5) ADD_FAILURE() << "c[" << i << "," << j << "] = " << got << ", want " << want;
      }
    EXPECT_EQ(bad, 0);
    if (with_bias) {
      EXPECT_EQ(fused[1 * ldc + 1], T(0));  // a zero row plus a zero bias, exactly
    }
  }
}

TEST(Gemm, EpilogueEqualsTheSeparateLoopsInEverySplit) {
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{7, 5, 3}, {16, 3, 20}, {16, 20, 4}, {5000, 24, 20}, {24, 5000, 20}, {300, 200, 100}, {24, 20, 6007}};
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ThreadCount count(threads);
    for (const Shape& s : shapes) {
      check_epilogue<float>(false, false, s.m, s.n, s.k, s.n);
      check_epilogue<float>(true, true, s.m, s.n, s.k, s.n + 3);
      check_epilogue<double>(false, true, s.m, s.n, s.k, s.n + 1);
    }
  }
}

}  // namespace
}  // namespace kiln::test
