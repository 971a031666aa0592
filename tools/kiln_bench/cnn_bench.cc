// The article's CNN training step on random 28x28x1 images, eagerly and wrapped in kiln::function.
#include "tools/kiln_bench/cnn_bench.h"

#include <benchmark/benchmark.h>

#include "tools/kiln_bench/classifier_step.h"

namespace kiln::bench {
namespace {
using kiln::Tensor;

int64_t g_batch = 128;

// The article's CNN on one batch of random 28x28x1 images, its variables built eagerly.
ClassifierStep make_cnn_step(int64_t batch) {
  using kiln::nn::activations::relu;
  kiln::set_seed(1);
  kiln::nn::Sequential model;
  model.add(kiln::nn::Conv2D(20, {5, 5}, {.activation = relu}));
  model.add(kiln::nn::Conv2D(50, {5, 5}, {.activation = relu}));
  model.add(kiln::nn::Flatten());
  model.add(kiln::nn::Dense(500, {.activation = relu}));
  model.add(kiln::nn::Dense(500, {.activation = relu}));
  model.add(kiln::nn::Dense(10));
  Tensor x = kiln::random_uniform({batch, 28, 28, 1});
  model(kiln::slice(x, {0, 0, 0, 0}, {1, 28, 28, 1}));
  return ClassifierStep(model, x, cyclic_labels(batch, 10), 10);
}

void BM_cnn_eager_step(benchmark::State& state) {
  ClassifierStep step = make_cnn_step(g_batch);
  for (auto _ : state) step(step.x, step.y);
}
BENCHMARK(BM_cnn_eager_step)->Unit(benchmark::kMillisecond);

// As BM_iris_compiled_step: one step and one compiled function per process, leaked on purpose.
void BM_cnn_compiled_step(benchmark::State& state) {
  static ClassifierStep* step = new ClassifierStep(make_cnn_step(g_batch));
  static auto* compiled = [] {
    auto* f = new auto(step->compiled("cnn_step"));
    for (int i = 0; i < 3; ++i) (*f)(step->x, step->y);  // warm-up: trace, compile
    return f;
  }();
  for (auto _ : state) (*compiled)(step->x, step->y);
}
BENCHMARK(BM_cnn_compiled_step)->Unit(benchmark::kMillisecond);
}  // namespace

void set_cnn_batch(int64_t batch) { g_batch = batch; }

double cnn_step_flops(int64_t batch) {
  // Multiply-adds of one image's forward pass, layer by layer (valid 5x5 convolutions).
  const double conv1 = 24.0 * 24 * 20 * (5 * 5 * 1), conv2 = 20.0 * 20 * 50 * (5 * 5 * 20);
  const double dense = 20000.0 * 500 + 500.0 * 500 + 500.0 * 10;
  return 2 * (conv1 + conv2 + dense) * 3 * static_cast<double>(batch);
}

double cnn_first_call_ms(int64_t batch) { return make_cnn_step(batch).first_call_ms("cnn_step"); }

}  // namespace kiln::bench
