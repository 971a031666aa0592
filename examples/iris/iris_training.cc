// The article's iris training loop and the TF tutorial's, in Kiln.
#include "examples/iris/iris_training.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>

#include "examples/common/epoch_times.h"
#include "examples/iris/iris_models.h"
#include "kiln/kiln.h"

namespace iris {
namespace {
using kiln::Tensor;

// iris.csv: a header line (count, features, class names), then 4 floats and an int label a row.
std::vector<kiln::data::CsvColumn> iris_columns() {
  std::vector<kiln::data::CsvColumn> cols(kFeatures, {kiln::DType::Float32, std::nullopt});
  cols.push_back({kiln::DType::Int32, std::nullopt});
  return cols;
}

std::string data_path(const Options& o) { return o.data.empty() ? std::string(KILN_IRIS_CSV) : o.data; }

// The rows' features as [N,4] float32 and labels as [N] int32.
struct Split {
  Tensor x, y;
};

// train_test_split: a seeded shuffle, then the first quarter (rounded up) for validation.
void split_rows(const std::vector<Tensor>& columns, uint64_t seed, Split& train, Split& valid) {
  const int64_t n = columns[0].dim(0);
  std::vector<int32_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 engine(seed);
  std::shuffle(perm.begin(), perm.end(), engine);
  const int64_t n_valid = (n + 3) / 4;
  std::vector<Tensor> features(columns.begin(), columns.begin() + kFeatures);
  for (Tensor& f : features) f = kiln::reshape(f, {n, 1});
  Tensor x = kiln::concat(features, 1);
  auto take = [&](int64_t begin, int64_t count) {
    Tensor idx = Tensor::from_vector(std::vector<int32_t>(perm.begin() + begin, perm.begin() + begin + count));
    return Split{kiln::gather(x, idx), kiln::gather(columns[kFeatures], idx)};
  };
  valid = take(0, n_valid);
  train = take(n_valid, n - n_valid);
}

// lossfun: reduce_mean(softmax_cross_entropy_with_logits(one_hot(y, 3), model(x))).
Tensor loss_of(IrisModel& model, const Tensor& x, const Tensor& y) {
  Tensor labels = kiln::one_hot(y, kClasses);
  return kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(labels, model.logits(x)));
}

double accuracy_of(IrisModel& model, const Tensor& x, const Tensor& y) {
  Tensor correct = kiln::equal(kiln::argmax(model.logits(x), 1, kiln::DType::Int32), y);
  return kiln::reduce_mean(kiln::cast(correct, kiln::DType::Float32)).item<double>();
}

// The training step's arguments: a batch of features [N,4] and labels [N]. The -1 batch dim lets
// a smaller last batch reuse the trace.
std::vector<std::optional<kiln::TensorSpec>> batch_signature() {
  return {kiln::TensorSpec{{-1, kFeatures}}, kiln::TensorSpec{{-1}, kiln::DType::Int32}};
}
}  // namespace

double train_article(const Options& o) {
  const int64_t epochs = o.epochs < 0 ? 30 : o.epochs, batch_size = 16;
  Split train, valid;
  split_rows(kiln::data::read_csv(data_path(o), iris_columns(), {.header_lines = 1}), o.seed, train, valid);
  kiln::set_seed(o.seed);
  std::unique_ptr<IrisModel> model = make_model(o.variant, o.seed);
  kiln::optim::Adam optimizer;
  std::mt19937_64 engine(o.seed + 1);
  // With jit off (eager) kiln::function just calls the lambda, so both modes run this one step.
  auto train_step = kiln::function(
      [&](const Tensor& x, const Tensor& y) {
        kiln::GradientTape tape;
        Tensor loss = loss_of(*model, x, y);
        std::vector<kiln::Variable> vars = model->trainable_variables();
        optimizer.apply_gradients(tape.gradient(loss, vars), vars);
      },
      {.name = "train_step", .input_signature = batch_signature(), .jit = o.compiled});
  if (o.compiled && o.variant == "dynamic")
    std::cout << "note: --compiled traces the step once, so the dynamic model's host `if` (take the extra "
                 "layer or not) is decided at trace time and baked into the graph; kiln::cond is the traced "
                 "form that decides on every call."
              << std::endl;
  const int64_t n = train.x.dim(0);
  std::vector<int32_t> perm(static_cast<size_t>(n));
  double valid_acc = 0;
  examples::EpochTimes times;
  kiln::ProgressBar bar(epochs);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    times.start();
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), engine);
    for (int64_t i = 0; i < n; i += batch_size) {
      const int64_t end = std::min(n, i + batch_size);
      Tensor idx = Tensor::from_vector(std::vector<int32_t>(perm.begin() + i, perm.begin() + end));
      train_step(kiln::gather(train.x, idx), kiln::gather(train.y, idx));
    }
    const double epoch_ms = times.stop();
    valid_acc = accuracy_of(*model, valid.x, valid.y);
    if ((epoch + 1) % 5 == 0) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "epoch: %lld  train/loss: %.5f  valid/loss: %.5f  train/accuracy: %.5f  valid/accuracy: %.5f"
                    "  epoch_ms: %.3f",
                    static_cast<long long>(epoch + 1), loss_of(*model, train.x, train.y).item<double>(),
                    loss_of(*model, valid.x, valid.y).item<double>(), accuracy_of(*model, train.x, train.y), valid_acc,
                    epoch_ms);
      bar.write(line);
    }
    bar.update();
  }
  bar.close();
  char final_line[64];
  std::snprintf(final_line, sizeof final_line, "final valid/accuracy: %.5f", valid_acc);
  std::cout << final_line << '\n' << times.summary(o.compiled, train_step.trace_count()) << std::endl;
  return valid_acc;
}

double train_tutorial(const Options& o) {
  const int64_t epochs = o.epochs < 0 ? 201 : o.epochs;
  kiln::set_seed(o.seed);
  // TextLineDataset(...).skip(1).map(parse_csv).shuffle(1000).batch(32)
  kiln::data::Dataset train = kiln::data::Dataset::csv(data_path(o), iris_columns(), {.header_lines = 1})
                                  .map([](const kiln::data::Element& row) {
                                    std::vector<Tensor> f(row.begin(), row.begin() + kFeatures);
                                    for (Tensor& t : f) t = kiln::reshape(t, {1});
                                    return kiln::data::Element{kiln::concat(f, 0), row[kFeatures]};
                                  })
                                  .shuffle(1000, o.seed)
                                  .batch(32);
  kiln::nn::Sequential model;
  auto init = [&](uint64_t k) { return kiln::nn::initializers::glorot_uniform(o.seed * 16 + k); };
  model.add(kiln::nn::Dense(10, {.activation = kiln::nn::activations::relu, .kernel_initializer = init(1), .input_dim = kFeatures}));
  model.add(kiln::nn::Dense(10, {.activation = kiln::nn::activations::relu, .kernel_initializer = init(2), .input_dim = 10}));
  model.add(kiln::nn::Dense(kClasses, {.kernel_initializer = init(3), .input_dim = 10}));
  kiln::optim::SGD optimizer({.learning_rate = 0.01});
  // The step returns what the metrics need (the loss and predictions after the update); the
  // metrics themselves accumulate on the host, outside the step.
  auto train_step = kiln::function(
      [&](const Tensor& x, const Tensor& y) {
        kiln::GradientTape tape;
        Tensor loss = kiln::reduce_mean(kiln::sparse_softmax_cross_entropy_with_logits(y, model(x)));
        std::vector<kiln::Variable> vars = model.trainable_variables();
        optimizer.apply_gradients(tape.gradient(loss, vars), vars);
        Tensor logits = model(x);
        return std::make_pair(kiln::reduce_mean(kiln::sparse_softmax_cross_entropy_with_logits(y, logits)),
                              kiln::argmax(logits, 1, kiln::DType::Int32));
      },
      {.name = "train_step", .input_signature = batch_signature(), .jit = o.compiled});
  double accuracy = 0;
  examples::EpochTimes times;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    times.start();
    kiln::metrics::Mean epoch_loss;
    kiln::metrics::Accuracy epoch_accuracy;
    for (const kiln::data::Element& batch : train) {
      auto [loss, predictions] = train_step(batch[0], batch[1]);
      epoch_loss.update_state(loss);
      epoch_accuracy.update_state(batch[1], predictions);
    }
    const double epoch_ms = times.stop();
    accuracy = epoch_accuracy.result();
    if (epoch % 50 == 0) {
      char line[128];
      std::snprintf(line, sizeof line, "Epoch %03lld: Loss: %.3f, Accuracy: %.3f%%, epoch_ms: %.3f",
                    static_cast<long long>(epoch), epoch_loss.result(), 100.0 * accuracy, epoch_ms);
      std::cout << line << std::endl;
    }
  }
  std::cout << times.summary(o.compiled, train_step.trace_count()) << std::endl;
  return accuracy;
}

}  // namespace iris
