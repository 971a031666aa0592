// ClassifierStep: one training step of a Sequential classifier (forward, softmax cross-entropy of
// one-hot labels, tape gradient, Adam update) on one fixed batch, for the model benchmarks.
#pragma once
#include <chrono>
#include <utility>

#include "kiln/kiln.h"

namespace kiln::bench {

class ClassifierStep {
 public:
  /// `x` is the batch (its dim 0 is the batch), `y` its int32 labels in [0, classes).
  ClassifierStep(kiln::nn::Sequential model, Tensor x, Tensor y, int64_t classes)
      : x(std::move(x)), y(std::move(y)), model_(std::move(model)), classes_(classes) {}
  void operator()(const Tensor& bx, const Tensor& by) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(by, classes_), model_(bx)));
    std::vector<kiln::Variable> vars = model_.trainable_variables();
    optimizer_.apply_gradients(tape.gradient(loss, vars), vars);
  }
  /// The step under kiln::function as the examples compile it: a -1 batch dim, so a smaller last
  /// batch reuses the trace.
  /// With `relaxed` false, no input_signature: code compiled for the batch's static shapes.
  auto compiled(const std::string& name, bool relaxed = true) {
    std::vector<int64_t> dims = x.shape().vec();
    dims[0] = -1;
    std::vector<std::optional<TensorSpec>> signature;
    if (relaxed) signature = {TensorSpec{dims}, TensorSpec{{-1}, DType::Int32}};
    return kiln::function([this](const Tensor& bx, const Tensor& by) { (*this)(bx, by); },
                          {.name = name, .input_signature = signature});
  }
  /// Wall time, in milliseconds, of the first call of a fresh compiled step: the trace, the
  /// compile (or the disk cache's load, as $KILN_CACHE_DIR has it) and one run.
  double first_call_ms(const std::string& name) {
    auto step = compiled(name);
    auto start = std::chrono::steady_clock::now();
    step(x, y);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  Tensor x, y;

 private:
  kiln::nn::Sequential model_;
  kiln::optim::Adam optimizer_;
  int64_t classes_;
};

/// Labels 0, 1, ..., classes-1, 0, 1, ... for a batch of `n`.
inline Tensor cyclic_labels(int64_t n, int64_t classes) {
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(static_cast<int64_t>(i) % classes);
  return Tensor::from_vector(labels);
}

}  // namespace kiln::bench
