// The article's CNN training loop, evaluation and figures, in Kiln.
#include "examples/mnist_cnn/cnn_training.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>

#include "examples/common/epoch_times.h"
#include "kiln/kiln.h"

namespace mnist_cnn {
namespace {
using kiln::Tensor;
constexpr int64_t kClasses = 10;

// Fashion-MNIST's class names when the directory's name says Fashion-MNIST, else MNIST's digits.
std::vector<std::string> class_names_for(const std::string& dir) {
  std::string lower = dir;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("fashion") != std::string::npos)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  std::vector<std::string> digits;
  for (int d = 0; d < kClasses; ++d) digits.push_back(std::to_string(d));
  return digits;
}

struct Split {
  Tensor x, y;
};

Tensor take_rows(const Tensor& t, const std::vector<int32_t>& index, size_t begin, size_t end) {
  return kiln::gather(t, Tensor::from_vector(std::vector<int32_t>(index.begin() + begin, index.begin() + end)));
}

// The first `limit` rows (all when limit <= 0).
Split first_rows(const Tensor& x, const Tensor& y, int64_t limit) {
  if (limit <= 0 || limit >= x.dim(0)) return {x, y};
  std::vector<int32_t> index(static_cast<size_t>(limit));
  std::iota(index.begin(), index.end(), 0);
  return {take_rows(x, index, 0, index.size()), take_rows(y, index, 0, index.size())};
}

// model_selection.train_test_split(test_size=0.2): a seeded shuffle, the first fifth for validation.
void split_train_valid(const Split& all, uint64_t seed, Split& train, Split& valid) {
  const int64_t n = all.x.dim(0);
  KILN_CHECK(n >= 2, "mnist_cnn: need at least 2 training images to split 80/20, got ", n);
  std::vector<int32_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 engine(seed);
  std::shuffle(perm.begin(), perm.end(), engine);
  const size_t n_valid = static_cast<size_t>(std::max<int64_t>(1, n / 5));
  valid = {take_rows(all.x, perm, 0, n_valid), take_rows(all.y, perm, 0, n_valid)};
  train = {take_rows(all.x, perm, n_valid, perm.size()), take_rows(all.y, perm, n_valid, perm.size())};
}

// Conv2D(20, 5x5, relu), Conv2D(50, 5x5, relu), Flatten, Dense(500, relu), Dense(500, relu),
// Dense(10): the article's model, with logits out (its softmax moves into the loss).
kiln::nn::Sequential make_model(uint64_t seed) {
  using kiln::nn::activations::relu;
  auto init = [&](uint64_t k) { return kiln::nn::initializers::glorot_uniform(seed * 16 + k); };
  kiln::nn::Sequential model("cnn");
  model.add(kiln::nn::Conv2D(20, {5, 5}, {.activation = relu, .kernel_initializer = init(1)}));
  model.add(kiln::nn::Conv2D(50, {5, 5}, {.activation = relu, .kernel_initializer = init(2)}));
  model.add(kiln::nn::Flatten());
  model.add(kiln::nn::Dense(500, {.activation = relu, .kernel_initializer = init(3)}));
  model.add(kiln::nn::Dense(500, {.activation = relu, .kernel_initializer = init(4)}));
  model.add(kiln::nn::Dense(kClasses, {.kernel_initializer = init(5)}));
  return model;
}

// Per-example softmax cross-entropy of one-hot labels, as the article's lossfun before its mean.
Tensor losses_of(const Tensor& logits, const Tensor& y) {
  return kiln::softmax_cross_entropy_with_logits(kiln::one_hot(y, kClasses), logits);
}

// Batches of images [N,28,28,1] and labels [N]: the -1 batch dim lets a smaller last batch reuse
// the trace.
std::vector<std::optional<kiln::TensorSpec>> batch_signature(const Tensor& x) {
  return {kiln::TensorSpec{{-1, x.dim(1), x.dim(2), x.dim(3)}}, kiln::TensorSpec{{-1}, kiln::DType::Int32}};
}

struct Evaluation {
  double loss = 0, accuracy = 0;
  Tensor predictions;  // int32 [N]
};

template <class Step>
Evaluation evaluate(Step& step, const Split& split, int64_t batch) {
  kiln::metrics::Mean loss;
  kiln::metrics::Accuracy accuracy;
  std::vector<Tensor> predictions;
  const int64_t n = split.x.dim(0);
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t size = std::min(batch, n - begin);
    Tensor x = kiln::slice(split.x, {begin, 0, 0, 0}, {size, split.x.dim(1), split.x.dim(2), split.x.dim(3)});
    Tensor y = kiln::slice(split.y, {begin}, {size});
    auto [losses, predicted] = step(x, y);
    loss.update_state(losses);
    accuracy.update_state(y, predicted);
    predictions.push_back(predicted);
  }
  return {loss.result(), accuracy.result(), kiln::concat(predictions, 0)};
}

void write_figures(const std::string& out, const Split& test, const Tensor& predictions,
                   const std::vector<std::string>& names, uint64_t seed) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  KILN_CHECK(!ec, "mnist_cnn: cannot create the output directory '", out, "': ", ec.message());
  kiln::metrics::ConfusionMatrix cm(kClasses);
  cm.update_state(test.y, predictions);
  kiln::plot::write_confusion_png(out + "/confusion.png", cm, names);
  std::ofstream text(out + "/confusion.txt");
  text << cm.to_string(names);
  KILN_CHECK(text.good(), "mnist_cnn: cannot write '", out, "/confusion.txt'");
  // 30 test images drawn at random, as the article's np.random.choice.
  const int64_t n = test.x.dim(0), shown = std::min<int64_t>(30, n);
  std::mt19937_64 engine(seed + 2);
  std::vector<int32_t> index(static_cast<size_t>(n));
  std::iota(index.begin(), index.end(), 0);
  std::shuffle(index.begin(), index.end(), engine);
  index.resize(static_cast<size_t>(shown));
  kiln::plot::write_predictions_png(out + "/predictions.png", take_rows(test.x, index, 0, index.size()),
                                    take_rows(test.y, index, 0, index.size()),
                                    take_rows(predictions, index, 0, index.size()), names, static_cast<int>(shown));
}
}  // namespace

Result run(const Options& o) {
  KILN_CHECK(o.batch >= 1, "mnist_cnn: --batch must be at least 1, got ", o.batch);
  const int64_t epochs = o.epochs >= 0 ? o.epochs : o.load.empty() ? 5 : 0;
  kiln::data::MnistData data = kiln::data::load_mnist(o.data);
  Split train, valid;
  split_train_valid(first_rows(data.train_images, data.train_labels, o.limit), o.seed, train, valid);
  const Split test = first_rows(data.test_images, data.test_labels, o.limit);
  const std::vector<std::string> names = class_names_for(o.data);
  std::cout << "data: " << o.data << ": train " << train.x.shape().str() << ", valid " << valid.x.shape().str()
            << ", test " << test.x.shape().str() << (o.compiled ? " (compiled steps)" : " (eager steps)") << std::endl;

  kiln::set_seed(o.seed);
  kiln::nn::Sequential model = make_model(o.seed);
  model.predict(kiln::slice(train.x, {0, 0, 0, 0}, {1, train.x.dim(1), train.x.dim(2), train.x.dim(3)}));  // builds the variables
  if (!o.load.empty()) model.load(o.load);
  kiln::optim::Adam optimizer;
  // The step returns what the epoch's metrics need: the per-example losses and the predictions of
  // the forward pass before the update (as Keras' fit reports training metrics).
  auto train_step = kiln::function(
      [&](const Tensor& x, const Tensor& y) {
        kiln::GradientTape tape;
        Tensor logits = model(x);
        Tensor losses = losses_of(logits, y);
        std::vector<kiln::Variable> vars = model.trainable_variables();
        optimizer.apply_gradients(tape.gradient(kiln::reduce_mean(losses), vars), vars);
        return std::make_pair(losses, kiln::argmax(logits, 1, kiln::DType::Int32));
      },
      {.name = "train_step", .input_signature = batch_signature(train.x), .jit = o.compiled});
  auto eval_step = kiln::function(
      [&](const Tensor& x, const Tensor& y) {
        Tensor logits = model(x);
        return std::make_pair(losses_of(logits, y), kiln::argmax(logits, 1, kiln::DType::Int32));
      },
      {.name = "eval_step", .input_signature = batch_signature(train.x), .jit = o.compiled});

  Result result;
  const int64_t n = train.x.dim(0), batches = (n + o.batch - 1) / o.batch;
  std::mt19937_64 engine(o.seed + 1);
  std::vector<int32_t> perm(static_cast<size_t>(n));
  examples::EpochTimes times;
  kiln::ProgressBar bar(epochs * batches, "train");
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    times.start();
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), engine);
    kiln::metrics::Mean train_loss;
    kiln::metrics::Accuracy train_accuracy;
    for (int64_t i = 0; i < n; i += o.batch) {
      const size_t begin = static_cast<size_t>(i), end = static_cast<size_t>(std::min(n, i + o.batch));
      Tensor y = take_rows(train.y, perm, begin, end);
      auto [losses, predicted] = train_step(take_rows(train.x, perm, begin, end), y);
      train_loss.update_state(losses);
      train_accuracy.update_state(y, predicted);
      bar.update();
    }
    const double epoch_ms = times.stop();
    Evaluation v = evaluate(eval_step, valid, o.batch);
    result.valid_accuracy = v.accuracy;
    char line[256];
    std::snprintf(line, sizeof line,
                  "epoch: %lld  train/loss: %.5f  valid/loss: %.5f  train/accuracy: %.5f  valid/accuracy: %.5f"
                  "  epoch_ms: %.1f",
                  static_cast<long long>(epoch + 1), train_loss.result(), v.loss, train_accuracy.result(), v.accuracy,
                  epoch_ms);
    bar.write(line);
  }
  bar.close();
  if (epochs > 0) std::cout << times.summary(o.compiled, train_step.trace_count(), train_step.compile_count()) << std::endl;
  result.median_epoch_ms = times.median_of_rest();
  if (!o.save.empty()) model.save(o.save);

  Evaluation t = evaluate(eval_step, test, o.batch);
  result.test_accuracy = t.accuracy;
  char line[64];
  std::snprintf(line, sizeof line, "test/accuracy: %.5f", t.accuracy);
  std::cout << line << std::endl;
  write_figures(o.out, test, t.predictions, names, o.seed);
  std::cout << "wrote " << o.out << "/confusion.png, confusion.txt, predictions.png" << std::endl;
  return result;
}

}  // namespace mnist_cnn
