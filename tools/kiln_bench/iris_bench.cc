// The iris training step (forward, loss, tape gradient and Adam update; batch 16), eagerly and
// wrapped in kiln::function.
#include "tools/kiln_bench/iris_bench.h"

#include <benchmark/benchmark.h>

#include <chrono>

#include "kiln/kiln.h"

namespace kiln::bench {
namespace {
using kiln::Tensor;
using kiln::nn::Dense;

// A model, its optimizer and one batch; calling it runs one training step on (x, y).
class IrisStep {
 public:
  IrisStep() {
    kiln::set_seed(1);
    model_.add(Dense(20, {.activation = kiln::nn::activations::relu, .input_dim = 4}));
    model_.add(Dense(20, {.activation = kiln::nn::activations::relu, .input_dim = 20}));
    model_.add(Dense(3, {.input_dim = 20}));
    x = kiln::random_normal({16, 4});
    std::vector<int32_t> labels(16);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 3);
    y = Tensor::from_vector(labels);
  }
  void operator()(const Tensor& bx, const Tensor& by) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(by, 3), model_(bx)));
    std::vector<kiln::Variable> vars = model_.trainable_variables();
    optimizer_.apply_gradients(tape.gradient(loss, vars), vars);
  }
  Tensor x, y;

 private:
  kiln::nn::Sequential model_;
  kiln::optim::Adam optimizer_;
};

// The step as the iris example compiles it: a -1 batch dim, so a smaller last batch reuses the trace.
auto compile_step(IrisStep& step) {
  return kiln::function([&step](const Tensor& x, const Tensor& y) { step(x, y); },
                        {.name = "iris_step",
                         .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1}, DType::Int32}}});
}

void BM_iris_eager_step(benchmark::State& state) {
  IrisStep step;
  for (auto _ : state) step(step.x, step.y);
}
BENCHMARK(BM_iris_eager_step);

// One step and one compiled function for every run of this case, so the compile (measured by
// iris_first_call_ms) happens once per process and every run times warm calls. Leaked on
// purpose: no JIT-compiled code is then torn down at exit, in an unspecified order against
// LLVM's own statics.
void BM_iris_compiled_step(benchmark::State& state) {
  static IrisStep* step = new IrisStep;
  static auto* compiled = [] {
    auto* f = new auto(compile_step(*step));
    for (int i = 0; i < 3; ++i) (*f)(step->x, step->y);  // warm-up: trace, size check, compile
    return f;
  }();
  for (auto _ : state) (*compiled)(step->x, step->y);
}
BENCHMARK(BM_iris_compiled_step);
}  // namespace

double iris_first_call_ms() {
  IrisStep step;
  auto compiled = compile_step(step);
  auto start = std::chrono::steady_clock::now();
  compiled(step.x, step.y);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace kiln::bench
