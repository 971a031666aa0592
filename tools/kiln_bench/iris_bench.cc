// The iris training step, eagerly: forward, loss, tape gradient and Adam update (batch 16).
#include <benchmark/benchmark.h>

#include "kiln/kiln.h"

namespace {
using kiln::Tensor;
using kiln::nn::Dense;

void BM_iris_eager_step(benchmark::State& state) {
  kiln::set_seed(1);
  kiln::nn::Sequential model;
  model.add(Dense(20, {.activation = kiln::nn::activations::relu, .input_dim = 4}));
  model.add(Dense(20, {.activation = kiln::nn::activations::relu, .input_dim = 20}));
  model.add(Dense(3, {.input_dim = 20}));
  kiln::optim::Adam optimizer;
  Tensor x = kiln::random_normal({16, 4});
  std::vector<int32_t> labels(16);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 3);
  Tensor y = Tensor::from_vector(labels);
  for (auto _ : state) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(y, 3), model(x)));
    std::vector<kiln::Variable> vars = model.trainable_variables();
    optimizer.apply_gradients(tape.gradient(loss, vars), vars);
  }
}
BENCHMARK(BM_iris_eager_step);
}  // namespace
