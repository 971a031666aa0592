// The pooling layers (MaxPool2D, AveragePooling2D) and Dropout, as Keras' layers of those names.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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

/// Max over `pool_size` windows of an NHWC input [batch, height, width, channels]
/// (tf.keras.layers.MaxPool2D; kiln::max_pool2d has the math). No variables.
class MaxPool2D : public Layer {
 public:
  /// An empty `name` becomes a unique "max_pooling2d", "max_pooling2d_1", ... as Keras names it.
  /// kiln::Error naming the layer for a pool size or stride below 1 or an unknown padding.
  explicit MaxPool2D(std::array<int64_t, 2> pool_size = {2, 2}, PoolOptions options = {}, std::string name = "");
  /// kiln::Error naming the layer and the input's shape for a non-4-D or non-float input, or (with
  /// valid padding) an input smaller than the pool.
  Tensor call(const Tensor& x) override;
  std::array<int64_t, 2> pool_size() const { return pool_size_; }
  std::array<int64_t, 2> strides() const { return strides_; }

 private:
  std::array<int64_t, 2> pool_size_, strides_;
  std::string padding_;
};

/// The mean over `pool_size` windows of an NHWC input, padding not counted
/// (tf.keras.layers.AveragePooling2D; kiln::avg_pool2d has the math). No variables.
class AveragePooling2D : public Layer {
 public:
  /// An empty `name` becomes a unique "average_pooling2d", ... Errors as MaxPool2D's.
  explicit AveragePooling2D(std::array<int64_t, 2> pool_size = {2, 2}, PoolOptions options = {}, std::string name = "");
  Tensor call(const Tensor& x) override;
  std::array<int64_t, 2> pool_size() const { return pool_size_; }
  std::array<int64_t, 2> strides() const { return strides_; }

 private:
  std::array<int64_t, 2> pool_size_, strides_;
  std::string padding_;
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
