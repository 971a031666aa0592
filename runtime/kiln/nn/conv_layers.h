// Convolution layers: Conv2D (tf.keras.layers.Conv2D on NHWC inputs).
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "kiln/nn/activations.h"
#include "kiln/nn/initializers.h"
#include "kiln/nn/module.h"

namespace kiln::nn {

// Every member has a default member initializer, so designated initializers may name only some
// (`{.padding = "same", .activation = activations::relu}`).
struct Conv2DOptions {
  std::array<int64_t, 2> strides = {1, 1};  ///< [height, width], positive
  std::string padding = "valid";            ///< "valid" or "same" (TF's rules; see kiln::conv2d)
  Activation activation = {};               ///< empty: linear
  bool use_bias = true;
  Initializer kernel_initializer = {};  ///< empty: initializers::glorot_uniform() (fan_in = KH*KW*C, fan_out = KH*KW*F)
  Initializer bias_initializer = {};    ///< empty: initializers::zeros()
  /// The variables' dtype; inputs must have it too (no implicit casts).
  DType dtype = DType::Float32;
};

/// y = activation(conv2d(x, kernel, strides, padding) + bias) on x [batch, height, width,
/// channels], with kernel [KH, KW, channels, filters] and bias [filters]
/// (tf.keras.layers.Conv2D, channels_last, dilation 1). The variables are created on the first
/// call from the input's channel count, and named `<layer name>/kernel` and `<layer name>/bias`.
class Conv2D : public Layer {
 public:
  /// An empty `name` becomes a unique "conv2d", "conv2d_1", ... as Keras names layers. A
  /// non-positive `filters`, kernel size or stride, or an unknown padding throws kiln::Error.
  Conv2D(int64_t filters, std::array<int64_t, 2> kernel_size, Conv2DOptions options = {}, std::string name = "");
  /// x is [batch, height, width, channels]; another rank or dtype, a channel count other than
  /// the one the layer was built with, or an image smaller than the kernel with "valid" padding
  /// throws kiln::Error naming the layer and the shapes.
  Tensor call(const Tensor& x) override;

  /// The [KH, KW, channels, filters] weights; kiln::Error before the layer is built.
  const Variable& kernel() const;
  /// The [filters] bias; kiln::Error before the layer is built or with use_bias = false.
  const Variable& bias() const;
  int64_t filters() const { return filters_; }
  std::array<int64_t, 2> kernel_size() const { return kernel_size_; }
  const Conv2DOptions& options() const { return options_; }
  bool built() const { return kernel_.defined(); }
  /// Creates the variables for inputs of `channels` channels (call() does this on first use).
  void build(int64_t channels);

 private:
  int64_t filters_;
  std::array<int64_t, 2> kernel_size_;
  Conv2DOptions options_;
  Variable kernel_, bias_;
};

}  // namespace kiln::nn
