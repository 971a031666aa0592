// max_pool2d at the CNN's first pooling size ([128,24,24,20], 2x2 windows, stride 2, valid):
// the forward alone and the forward with max_pool2d_grad, eagerly and under kiln::function.
#include <benchmark/benchmark.h>

#include "kiln/kiln.h"

namespace kiln::bench {
namespace {
using kiln::Tensor;

struct PoolInputs {
  Tensor x = kiln::random_normal({128, 24, 24, 20});
  Tensor dy = kiln::random_normal({128, 12, 12, 20});
};
PoolInputs& inputs() {
  static PoolInputs* in = new PoolInputs;  // leaked: see BM_iris_compiled_step
  return *in;
}

Tensor forward(const Tensor& x) { return kiln::max_pool2d(x, {2, 2}, {2, 2}); }
std::tuple<Tensor, Tensor> forward_grad(const Tensor& x, const Tensor& dy) {
  Tensor y = forward(x);
  return {y, kiln::max_pool2d_grad(x, y, dy, {2, 2}, {2, 2})};
}

void BM_max_pool_eager_fwd(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(forward(inputs().x));
}
BENCHMARK(BM_max_pool_eager_fwd);

void BM_max_pool_eager_fwd_grad(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(forward_grad(inputs().x, inputs().dy));
}
BENCHMARK(BM_max_pool_eager_fwd_grad);

// Compiled once per process (warm-up calls), leaked as the iris case's.
void BM_max_pool_compiled_fwd(benchmark::State& state) {
  static auto* f = [] {
    auto* fn = new auto(kiln::function([](const Tensor& x) { return forward(x); }, {.name = "max_pool_fwd"}));
    (*fn)(inputs().x);
    return fn;
  }();
  for (auto _ : state) benchmark::DoNotOptimize((*f)(inputs().x));
}
BENCHMARK(BM_max_pool_compiled_fwd);

void BM_max_pool_compiled_fwd_grad(benchmark::State& state) {
  static auto* f = [] {
    auto* fn = new auto(kiln::function([](const Tensor& x, const Tensor& dy) { return forward_grad(x, dy); },
                                       {.name = "max_pool_fwd_grad"}));
    (*fn)(inputs().x, inputs().dy);
    return fn;
  }();
  for (auto _ : state) benchmark::DoNotOptimize((*f)(inputs().x, inputs().dy));
}
BENCHMARK(BM_max_pool_compiled_fwd_grad);
}  // namespace
}  // namespace kiln::bench
