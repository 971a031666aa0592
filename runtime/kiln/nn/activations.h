// Activation functions for layers (kiln::nn::activations), as Keras's `activation="relu"`.
#pragma once
#include <functional>

#include "kiln/tensor.h"

namespace kiln::nn {

/// An elementwise (or last-axis) function applied to a layer's output; empty means linear.
using Activation = std::function<Tensor(const Tensor&)>;

/// Plain functions, so that `DenseOptions{.activation = kiln::nn::activations::relu}` converts
/// without a cast. Each is the kiln op of the same name.
namespace activations {
/// max(x, 0).
Tensor relu(const Tensor& x);
/// 1 / (1 + exp(-x)).
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
/// exp(x) / sum(exp(x)) over the last axis.
Tensor softmax(const Tensor& x);
/// x itself (the same as an empty Activation).
Tensor linear(const Tensor& x);
}  // namespace activations

}  // namespace kiln::nn
