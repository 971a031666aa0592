// Eager dispatch cost: one tiny op end to end (shape rule, allocation, kernel, result).
#include <benchmark/benchmark.h>

#include "kiln/ops.h"

namespace {
void BM_add_1elem(benchmark::State& state) {
  kiln::Tensor a = kiln::Tensor::scalar(1.0f), b = kiln::Tensor::scalar(2.0f);
  for (auto _ : state) benchmark::DoNotOptimize(kiln::add(a, b));
}
BENCHMARK(BM_add_1elem);

void BM_matmul_16x20(benchmark::State& state) {
  kiln::Tensor a = kiln::random_normal({16, 4}), b = kiln::random_normal({4, 20});
  for (auto _ : state) benchmark::DoNotOptimize(kiln::matmul(a, b));
}
BENCHMARK(BM_matmul_16x20);
}  // namespace
