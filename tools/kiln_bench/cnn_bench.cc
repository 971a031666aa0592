// The article's CNN training step on random 28x28x1 images, eagerly and wrapped in kiln::function.
#include "tools/kiln_bench/cnn_bench.h"

#include <benchmark/benchmark.h>

#include <chrono>

#include "kiln/kiln.h"

namespace kiln::bench {
namespace {
using kiln::Tensor;

int64_t g_batch = 128;

// A model, its optimizer and one batch; calling it runs one training step on (x, y).
class CnnStep {
 public:
  explicit CnnStep(int64_t batch) {
    using kiln::nn::activations::relu;
    kiln::set_seed(1);
    model_.add(kiln::nn::Conv2D(20, {5, 5}, {.activation = relu}));
    model_.add(kiln::nn::Conv2D(50, {5, 5}, {.activation = relu}));
    model_.add(kiln::nn::Flatten());
    model_.add(kiln::nn::Dense(500, {.activation = relu}));
    model_.add(kiln::nn::Dense(500, {.activation = relu}));
    model_.add(kiln::nn::Dense(10));
    x = kiln::random_uniform({batch, 28, 28, 1});
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
    y = Tensor::from_vector(labels);
    model_(kiln::slice(x, {0, 0, 0, 0}, {1, 28, 28, 1}));  // builds the variables eagerly
  }
  void operator()(const Tensor& bx, const Tensor& by) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(by, 10), model_(bx)));
    std::vector<kiln::Variable> vars = model_.trainable_variables();
    optimizer_.apply_gradients(tape.gradient(loss, vars), vars);
  }
  Tensor x, y;

 private:
  kiln::nn::Sequential model_;
  kiln::optim::Adam optimizer_;
};

auto compile_step(CnnStep& step) {
  return kiln::function([&step](const Tensor& x, const Tensor& y) { step(x, y); },
                        {.name = "cnn_step",
                         .input_signature = {TensorSpec{{-1, 28, 28, 1}}, TensorSpec{{-1}, DType::Int32}}});
}

void BM_cnn_eager_step(benchmark::State& state) {
  CnnStep step(g_batch);
  for (auto _ : state) step(step.x, step.y);
}
BENCHMARK(BM_cnn_eager_step)->Unit(benchmark::kMillisecond);

// As BM_iris_compiled_step: one step and one compiled function per process, leaked on purpose.
void BM_cnn_compiled_step(benchmark::State& state) {
  static CnnStep* step = new CnnStep(g_batch);
  static auto* compiled = [] {
    auto* f = new auto(compile_step(*step));
    for (int i = 0; i < 3; ++i) (*f)(step->x, step->y);  // warm-up: trace, size check, compile
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

double cnn_first_call_ms(int64_t batch) {
  CnnStep step(batch);
  auto compiled = compile_step(step);
  auto start = std::chrono::steady_clock::now();
  compiled(step.x, step.y);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace kiln::bench
