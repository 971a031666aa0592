// The iris training step (forward, loss, tape gradient and Adam update; batch 16), eagerly and
// wrapped in kiln::function.
#include "tools/kiln_bench/iris_bench.h"

#include <benchmark/benchmark.h>

#include "tools/kiln_bench/classifier_step.h"

namespace kiln::bench {
namespace {
using kiln::Tensor;
using kiln::nn::Dense;

// The iris example's model (4 -> 20 relu -> 20 relu -> 3) on one batch of 16.
ClassifierStep make_iris_step() {
  kiln::set_seed(1);
  kiln::nn::Sequential model;
  model.add(Dense(20, {.activation = kiln::nn::activations::relu, .input_dim = 4}));
  model.add(Dense(20, {.activation = kiln::nn::activations::relu, .input_dim = 20}));
  model.add(Dense(3, {.input_dim = 20}));
  return ClassifierStep(model, kiln::random_normal({16, 4}), cyclic_labels(16, 3), 3);
}

void BM_iris_eager_step(benchmark::State& state) {
  ClassifierStep step = make_iris_step();
  for (auto _ : state) step(step.x, step.y);
}
BENCHMARK(BM_iris_eager_step);

// One step and one compiled function for every run of this case, so the compile (measured by
// iris_first_call_ms) happens once per process and every run times warm calls. Leaked on
// purpose: no JIT-compiled code is then torn down at exit, in an unspecified order against
// LLVM's own statics.
void BM_iris_compiled_step(benchmark::State& state) {
  static ClassifierStep* step = new ClassifierStep(make_iris_step());
  static auto* compiled = [] {
    auto* f = new auto(step->compiled("iris_step"));
    for (int i = 0; i < 3; ++i) (*f)(step->x, step->y);  // warm-up: trace, compile
    return f;
  }();
  for (auto _ : state) (*compiled)(step->x, step->y);
}
BENCHMARK(BM_iris_compiled_step);

// The same step without an input_signature: compiled for [16,4] and [16] exactly (static
// shapes, Note [Workspace]), against which the -1 batch dim's shared code is compared.
void BM_iris_compiled_static_step(benchmark::State& state) {
  static ClassifierStep* step = new ClassifierStep(make_iris_step());
  static auto* compiled = [] {
    auto* f = new auto(step->compiled("iris_step_static", false));
    for (int i = 0; i < 3; ++i) (*f)(step->x, step->y);
    return f;
  }();
  for (auto _ : state) (*compiled)(step->x, step->y);
}
BENCHMARK(BM_iris_compiled_static_step);
}  // namespace

double iris_first_call_ms() { return make_iris_step().first_call_ms("iris_step"); }

}  // namespace kiln::bench
