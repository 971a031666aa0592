// Keras' pooling layers (Pool2D: MaxPool2D, AveragePooling2D) and Dropout.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "kiln/nn/learning_phase.h"
#include "kiln/nn/module.h"

namespace kiln {
class Generator;
}

namespace kiln::nn {

struct PoolOptions {
  /// {0, 0}: the pool size (Keras' strides=None, non-overlapping windows).
  std::array<int64_t, 2> strides = {0, 0};
  /// "valid" (windows inside the input) or "same" (output ceil(H / stride), padded), as Keras.
  std::string padding = "valid";
};

/// What MaxPool2D and AveragePooling2D share: a window of `pool_size` sliding over the height and
/// width of an NHWC input [batch, height, width, channels] with `strides` and Keras' padding.
/// No variables.
class Pool2D : public Layer {
 public:
  /// kiln::Error naming the layer and the input's shape for a non-4-D or non-float input, or (with
  /// valid padding) an input smaller than the pool.
  Tensor call(const Tensor& x) override;
  std::array<int64_t, 2> pool_size() const { return pool_size_; }
  std::array<int64_t, 2> strides() const { return strides_; }
  /// "valid" or "same".
  const std::string& padding() const { return padding_; }

 protected:
  enum class Reduction { Max, Mean };
  /// kiln::Error naming the layer for a pool size or stride below 1 or an unknown padding.
  /// `layer` is the class name, for messages; an empty `name` becomes a unique `default_name`,
  /// `default_name`_1, ... as Keras names layers.
  Pool2D(Reduction reduction, const char* layer, const char* default_name, std::array<int64_t, 2> pool_size,
         const PoolOptions& options, std::string name);

 private:
  Reduction reduction_;
  const char* layer_;
  std::array<int64_t, 2> pool_size_, strides_;
  std::string padding_;
};

/// The max over each window (tf.keras.layers.MaxPool2D; kiln::max_pool2d has the math).
class MaxPool2D : public Pool2D {
 public:
  /// An empty `name` becomes a unique "max_pooling2d", "max_pooling2d_1", ...
  explicit MaxPool2D(std::array<int64_t, 2> pool_size = {2, 2}, PoolOptions options = {}, std::string name = "")
      : Pool2D(Reduction::Max, "MaxPool2D", "max_pooling2d", pool_size, options, std::move(name)) {}
};

/// The mean over each window, padding not counted (tf.keras.layers.AveragePooling2D;
/// kiln::avg_pool2d has the math).
class AveragePooling2D : public Pool2D {
 public:
  /// An empty `name` becomes a unique "average_pooling2d", ...
  explicit AveragePooling2D(std::array<int64_t, 2> pool_size = {2, 2}, PoolOptions options = {}, std::string name = "")
      : Pool2D(Reduction::Mean, "AveragePooling2D", "average_pooling2d", pool_size, options, std::move(name)) {}
};

struct DropoutOptions {
  /// Seeds a generator of the layer's own, so its masks repeat from run to run (Keras' seed).
  std::optional<uint64_t> seed = std::nullopt;
  /// Draws the masks from this generator instead (it must outlive the layer and every
  /// kiln::function that calls it). Neither set: kiln::global_generator().
  Generator* generator = nullptr;
};

/// tf.keras.layers.Dropout: in the training phase (learning_phase(), set with a LearningPhase
/// guard), y = u >= rate ? x / (1 - rate) : 0 with a fresh u ~ U[0, 1) per call (kiln::dropout);
/// in inference (the default, and always in predict()) y = x. Under kiln::function the phase is
/// the one at trace time (see learning_phase()). No variables.
class Dropout : public Layer {
 public:
  /// An empty `name` becomes a unique "dropout", "dropout_1", ... kiln::Error naming the layer
  /// for a rate outside [0, 1).
  explicit Dropout(double rate, DropoutOptions options = {}, std::string name = "");
  /// kiln::Error naming the layer and the input for a non-float input.
  Tensor call(const Tensor& x) override;
  double rate() const { return rate_; }

 private:
  double rate_;
  Generator* generator_;                   // null: the global generator
  std::shared_ptr<Generator> own_generator_;  // DropoutOptions::seed's; copies of the layer share it
};

}  // namespace kiln::nn
