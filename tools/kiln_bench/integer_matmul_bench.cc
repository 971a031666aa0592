// Integer matmul, int32 and int64 at 128x256x256 (a [128,256] x [256,256] product), eagerly and
// under kiln::function (a kiln_gemm_<i32|i64> call, Note [Integer GEMM]; LLVM's loops with
// KILN_COMPILER_GEMM=loops in the environment). Reports GOP/s (2 m n k per call over wall time:
// the product may run on two threads).
//   build/tools/kiln-bench --benchmark_filter=IntMatmul
//   KILN_COMPILER_GEMM=loops build/tools/kiln-bench --benchmark_filter=IntMatmul_compiled
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>

#include "kiln/kiln.h"

namespace kiln::bench {
namespace {
using kiln::Tensor;

constexpr int64_t kM = 128, kK = 256, kN = 256;

template <typename T>
Tensor random_integers(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(shape, dtype_of<T>::value);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-100, 100);
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = static_cast<T>(dist(rng));
  return t;
}

template <typename T>
struct Operands {
  Tensor a = random_integers<T>({kM, kK}, 1);
  Tensor b = random_integers<T>({kK, kN}, 2);
};
template <typename T>
Operands<T>& operands() {
  static Operands<T>* x = new Operands<T>;  // leaked: see BM_iris_compiled_step
  return *x;
}

void report(benchmark::State& state) {
  state.counters["GOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(kM * kN * kK),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

template <typename T>
void BM_IntMatmul_eager(benchmark::State& state) {
  Operands<T>& x = operands<T>();
  for (auto _ : state) benchmark::DoNotOptimize(kiln::matmul(x.a, x.b));
  report(state);
}
BENCHMARK(BM_IntMatmul_eager<int32_t>)->Name("IntMatmul_eager/int32/128x256x256")->UseRealTime();
BENCHMARK(BM_IntMatmul_eager<int64_t>)->Name("IntMatmul_eager/int64/128x256x256")->UseRealTime();

// Compiled once per process (a warm-up call), leaked as the iris case's.
template <typename T>
void BM_IntMatmul_compiled(benchmark::State& state) {
  Operands<T>& x = operands<T>();
  static auto* f = [&x] {
    auto* fn = new auto(kiln::function([](const Tensor& a, const Tensor& b) { return kiln::matmul(a, b); },
                                       {.name = "int_matmul"}));
    (*fn)(x.a, x.b);
    return fn;
  }();
  for (auto _ : state) benchmark::DoNotOptimize((*f)(x.a, x.b));
  report(state);
}
BENCHMARK(BM_IntMatmul_compiled<int32_t>)->Name("IntMatmul_compiled/int32/128x256x256")->UseRealTime();
BENCHMARK(BM_IntMatmul_compiled<int64_t>)->Name("IntMatmul_compiled/int64/128x256x256")->UseRealTime();

}  // namespace
}  // namespace kiln::bench
