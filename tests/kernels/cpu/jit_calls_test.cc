// The GEMM kernels compiled code calls (kernels/cpu/jit/gemm_calls.cc), called directly
// through the symbols the JIT links: many small shapes in turn against a plain reference, so
// that LIBXSMM's kernels, the per-thread kernel table (Note [Small GEMM kernel cache]) and the
// B^T copy are all exercised.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <libxsmm.h>
#include <libxsmm_generator.h>  // libxsmm_ninit

#include "kernels/cpu/jit/jit_abi.h"

namespace {
using kiln::kernels::jit::MemrefDescriptor;
using Memref2 = MemrefDescriptor<float, 2>;
using GemmFn = void (*)(Memref2*, Memref2*, Memref2*, int64_t, int64_t, int64_t);

GemmFn gemm_kernel() {
  for (const auto& [name, address] : kiln::kernels::jit::jit_kernel_symbols())
    if (name == "_mlir_ciface_kiln_gemm_f32") return reinterpret_cast<GemmFn>(address);
  return nullptr;
}

Memref2 row_major(std::vector<float>& data, int64_t rows, int64_t cols) {
  return Memref2{data.data(), data.data(), 0, {rows, cols}, {cols, 1}};
}

struct Case {
  int64_t m, n, k;
  bool ta, tb, accumulate;
};

// c = op(a) op(b) (+ c) for each case, in a shuffled order that repeats every case, against the
// same product summed in double. The kernels come from LIBXSMM's code generator alone: LIBXSMM
// itself is never set up (Note [LIBXSMM's code generator alone]).
TEST(JitKernels, SmallGemmsOfManyShapesInTurn) {
  const GemmFn gemm = gemm_kernel();
  ASSERT_NE(gemm, nullptr);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> size(1, 24);
  std::uniform_real_distribution<float> value(-1, 1);
  std::vector<Case> cases;
  for (int i = 0; i < 150; ++i)  // more shapes than the kernel table has slots
    cases.push_back({size(rng), size(rng), size(rng), (i & 1) != 0, (i & 2) != 0, (i & 4) != 0});
  std::vector<size_t> order;
  for (int round = 0; round < 3; ++round)
    for (size_t i = 0; i < cases.size(); ++i) order.push_back(i);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i : order) {
    const Case& c = cases[i];
    std::vector<float> a(static_cast<size_t>(c.m * c.k)), b(static_cast<size_t>(c.k * c.n)),
        out(static_cast<size_t>(c.m * c.n));
    for (float& x : a) x = value(rng);
    for (float& x : b) x = value(rng);
    for (float& x : out) x = value(rng);
    const std::vector<float> before = out;
    Memref2 A = c.ta ? row_major(a, c.k, c.m) : row_major(a, c.m, c.k);
    Memref2 B = c.tb ? row_major(b, c.n, c.k) : row_major(b, c.k, c.n);
    Memref2 C = row_major(out, c.m, c.n);
    gemm(&A, &B, &C, c.ta, c.tb, c.accumulate);
    for (int64_t r = 0; r < c.m; ++r)
      for (int64_t j = 0; j < c.n; ++j) {
        double want = c.accumulate ? before[static_cast<size_t>(r * c.n + j)] : 0.0;
        for (int64_t p = 0; p < c.k; ++p) {
          const float x = c.ta ? a[static_cast<size_t>(p * c.m + r)] : a[static_cast<size_t>(r * c.k + p)];
          const float y = c.tb ? b[static_cast<size_t>(j * c.k + p)] : b[static_cast<size_t>(p * c.n + j)];
          want += static_cast<double>(x) * y;
        }
        ASSERT_NEAR(out[static_cast<size_t>(r * c.n + j)], want, 1e-4)
            << "m=" << c.m << " n=" << c.n << " k=" << c.k << " ta=" << c.ta << " tb=" << c.tb
            << " accumulate=" << c.accumulate << " at [" << r << "," << j << "]";
      }
  }
  EXPECT_EQ(libxsmm_ninit, 0u);
}

}  // namespace

namespace {
// Note [Flipped small GEMM]: C = A^T B with few columns (the iris step's dW3, 20 x 3 over 16
// rows) runs as the transposed product; C may be a column block of a wider buffer, whose other
// columns stay untouched.
TEST(JitKernels, FewColumnTransposedProductIntoAStridedBlock) {
  const GemmFn gemm = gemm_kernel();
  ASSERT_NE(gemm, nullptr);
  const int64_t m = 20, n = 3, k = 16, width = 8, col0 = 2;
  std::vector<float> a(static_cast<size_t>(k * m)), b(static_cast<size_t>(k * n)), out(static_cast<size_t>(m * width));
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7) % 11) - 5.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 5) % 7) - 3.0f;
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(i);
  for (int64_t accumulate : {0, 1}) {
    const std::vector<float> before = out;
    Memref2 A = row_major(a, k, m), B = row_major(b, k, n);
    Memref2 C{out.data(), out.data(), col0, {m, n}, {width, 1}};
    gemm(&A, &B, &C, 1, 0, accumulate);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < width; ++j) {
        const size_t at = static_cast<size_t>(r * width + j);
        double want = before[at];
        if (j >= col0 && j < col0 + n) {
          if (accumulate == 0) want = 0;
          for (int64_t p = 0; p < k; ++p)
            want += static_cast<double>(a[static_cast<size_t>(p * m + r)]) * b[static_cast<size_t>(p * n + j - col0)];
        }
        ASSERT_EQ(out[at], want) << "accumulate=" << accumulate << " at [" << r << "," << j << "]";
      }
  }
}
}  // namespace
