// Eager dispatch cost: one tiny op end to end (shape rule, allocation, kernel, result).
#include <benchmark/benchmark.h>

#include "kiln/kiln.h"

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

namespace {
// A compiled call's fixed cost: a kiln::function whose body is one tiny op on a variable
// (the iris step's call does the same work around 23 arguments instead of 3).
void BM_compiled_call_1elem(benchmark::State& state) {
  kiln::Variable v(kiln::Tensor::scalar(0.0f));
  auto step = kiln::function([&](const kiln::Tensor& x) { v.assign_add(x); }, {.name = "bench_call_1elem"});
  kiln::Tensor x = kiln::Tensor::scalar(1.0f);
  for (auto _ : state) step(x);
}
BENCHMARK(BM_compiled_call_1elem);
}  // namespace
