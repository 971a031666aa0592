// GEMM at the MNIST CNN's shapes (dense layers directly, convolutions through im2col), batch 128
// and 1000, 1 and 2 kernel threads: kiln::kernels::gemm, and Eigen's single-threaded GEMM on the
// whole product for comparison. Reports GFLOP/s (2 m n k per call over wall time).
//   build/tools/kiln-bench --benchmark_filter=Gemm
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel_for.h"

namespace {

struct GemmShape {
  const char* name;
  bool ta, tb;
  int64_t m, n, k;
};

// The CNN: Conv2D(20, 5x5) -> Conv2D(50, 5x5) -> Flatten -> Dense(500) -> Dense(500) -> Dense(10)
// on 28x28x1 inputs; im2col makes conv2 [B*400, 5*5*20] x [500, 50] and conv1 [B*576, 25] x [25, 20].
std::vector<GemmShape> cnn_shapes(int64_t b) {
  return {
      {"dense_fwd", false, false, b, 500, 20000},   // x W: [B,20000] x [20000,500]
      {"dense_dW", true, false, 20000, 500, b},     // x^T dy
      {"dense_dx", false, true, b, 20000, 500},     // dy W^T
      {"dense500", false, false, b, 500, 500},      // [B,500] x [500,500]
      {"dense10", false, false, b, 10, 500},        // [B,500] x [500,10]
      {"conv2_fwd", false, false, b * 400, 50, 500},  // patches x filters
      {"conv2_dW", true, false, 500, 50, b * 400},    // patches^T dy
      {"conv2_dx", false, true, b * 400, 500, 50},    // dy filters^T
      {"conv1_fwd", false, false, b * 576, 20, 25},
  };
}

template <typename T>
struct Operands {
  std::vector<T> a, b, c;
  int64_t lda, ldb;
  explicit Operands(const GemmShape& s) {
    const int64_t ar = s.ta ? s.k : s.m, ac = s.ta ? s.m : s.k, br = s.tb ? s.n : s.k, bc = s.tb ? s.k : s.n;
    lda = ac;
    ldb = bc;
    std::mt19937 rng(1);
    std::uniform_real_distribution<T> uniform(-1, 1);
    a.resize(ar * ac);
    b.resize(br * bc);
    c.resize(s.m * s.n);
    for (T& x : a) x = uniform(rng);
    for (T& x : b) x = uniform(rng);
  }
};

void report(benchmark::State& state, const GemmShape& s) {
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(s.m * s.n * s.k),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

template <typename T>
void BM_Gemm(benchmark::State& state, GemmShape s, int threads) {
  Operands<T> x(s);
  const int saved = kiln::kernels::num_threads();
  kiln::kernels::set_num_threads(threads);
  for (auto _ : state) {
    kiln::kernels::gemm<T>(s.ta, s.tb, s.m, s.n, s.k, T(1), x.a.data(), x.lda, x.b.data(), x.ldb, T(0), x.c.data(), s.n);
    benchmark::DoNotOptimize(x.c.data());
  }
  kiln::kernels::set_num_threads(saved);
  report(state, s);
}

// Eigen's GEMM on the whole product, on the calling thread: what kernels::gemm started from.
template <typename T>
void BM_GemmEigenOneThread(benchmark::State& state, GemmShape s) {
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Operands<T> x(s);
  Eigen::Map<const RowMajor> A(x.a.data(), s.ta ? s.k : s.m, s.ta ? s.m : s.k);
  Eigen::Map<const RowMajor> B(x.b.data(), s.tb ? s.n : s.k, s.tb ? s.k : s.n);
  Eigen::Map<RowMajor> C(x.c.data(), s.m, s.n);
  for (auto _ : state) {
    if (!s.ta && !s.tb) C.noalias() = A * B;
    else if (s.ta && !s.tb) C.noalias() = A.transpose() * B;
    else if (!s.ta && s.tb) C.noalias() = A * B.transpose();
    else C.noalias() = A.transpose() * B.transpose();
    benchmark::DoNotOptimize(x.c.data());
  }
  report(state, s);
}

const bool registered = [] {
  for (int64_t batch : {128, 1000})
    for (const GemmShape& s : cnn_shapes(batch)) {
      const std::string shape = std::string(s.name) + "/B:" + std::to_string(batch);
      for (int threads : {1, 2})
        benchmark::RegisterBenchmark(("BM_Gemm/f32/" + shape + "/threads:" + std::to_string(threads)).c_str(),
                                     BM_Gemm<float>, s, threads)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("BM_GemmEigenOneThread/f32/" + shape).c_str(), BM_GemmEigenOneThread<float>, s)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      if (batch == 128)
        for (int threads : {1, 2})
          benchmark::RegisterBenchmark(("BM_Gemm/f64/" + shape + "/threads:" + std::to_string(threads)).c_str(),
                                       BM_Gemm<double>, s, threads)
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond);
    }
  return true;
}();

}  // namespace
