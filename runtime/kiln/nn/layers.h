// The core layers: Dense (a fully connected layer) and Flatten.
#pragma once
#include <cstdint>
#include <string>

#include "kiln/nn/activations.h"
#include "kiln/nn/initializers.h"
#include "kiln/nn/module.h"

namespace kiln::nn {

// Every member has a default member initializer: GCC's -Wmissing-field-initializers (in -Wextra)
// then accepts designated initializers that name only some, as `{.input_dim = 4}`.
struct DenseOptions {
  Activation activation = {};           ///< empty: linear
  bool use_bias = true;
  Initializer kernel_initializer = {};  ///< empty: initializers::glorot_uniform()
  Initializer bias_initializer = {};    ///< empty: initializers::zeros()
  /// > 0 creates the variables at construction (Keras's input_shape=(in,)); otherwise the first
  /// call creates them from the input's last dimension.
  int64_t input_dim = -1;
  /// The variables' dtype; inputs must have it too (no implicit casts).
  DType dtype = DType::Float32;
};

/// y = activation(x @ kernel + bias), with kernel [in, units] and bias [units] (tf.keras.layers.Dense).
/// An input of rank > 2 is contracted along its last axis, as Keras does: [batch, ..., in] ->
/// [batch, ..., units]. The variables are named `<layer name>/kernel` and `<layer name>/bias`.
class Dense : public Layer {
 public:
  /// An empty `name` becomes a unique "dense", "dense_1", ... as Keras names layers.
  explicit Dense(int64_t units, DenseOptions options = {}, std::string name = "");
  /// x is [batch, in] or [batch, ..., in]; a rank below 2, or a dtype or `in` other than the
  /// layer was built with, throws kiln::Error naming the layer and the shapes.
  Tensor call(const Tensor& x) override;

  /// The [in, units] weights; kiln::Error before the layer is built.
  const Variable& kernel() const;
  /// The [units] bias; kiln::Error before the layer is built or with use_bias = false.
  const Variable& bias() const;
  int64_t units() const { return units_; }
  bool built() const { return kernel_.defined(); }
  /// Creates the variables for inputs of `input_dim` features (call() does this on first use).
  void build(int64_t input_dim);

 private:
  int64_t units_;
  DenseOptions options_;
  Variable kernel_, bias_;
};

/// [N, d1, d2, ...] -> [N, d1 * d2 * ...] (a rank-1 [N] becomes [N, 1]), as tf.keras.layers.Flatten.
class Flatten : public Layer {
 public:
  /// An empty `name` becomes a unique "flatten", "flatten_1", ...
  explicit Flatten(std::string name = "");
  Tensor call(const Tensor& x) override;
};

}  // namespace kiln::nn
