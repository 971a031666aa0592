// Weight initializers (kiln::nn::initializers): functions from a shape and dtype to initial values.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "kiln/tensor.h"

namespace kiln::nn {

/// Makes the initial value of a variable of `shape` and `dtype`.
using Initializer = std::function<Tensor(const Shape&, DType)>;

/// init(shape, dtype), checked: kiln::Error "<who> returned float32[3], expected float32[4,3]"
/// when the initializer gives an undefined tensor or another shape or dtype. `who` names the
/// initializer in its layer: "dense 'dense': kernel_initializer".
Tensor initial_value(const Initializer& init, const Shape& shape, DType dtype, const std::string& who);

namespace initializers {

/// fan_in and fan_out of a weight shape, as Keras computes them: [in, out] for a dense kernel;
/// for a conv kernel [..., in, out] both are multiplied by the receptive field (the product of
/// the leading dims); rank 1 uses its one dim for both, rank 0 uses 1.
struct Fans {
  double fan_in;
  double fan_out;
};
Fans compute_fans(const Shape& shape);

/// Glorot (Xavier) uniform, Keras's default kernel initializer: U(-l, l) with
/// l = sqrt(6 / (fan_in + fan_out)) (fans below 2 in total count as 2).
/// With a seed, each call draws from a fresh kiln::Generator(seed), so a seeded initializer gives
/// the same values on every call (as Keras's seeded initializers); without one, the global
/// generator (kiln::set_seed) is used. Floating dtypes only.
Initializer glorot_uniform(std::optional<uint64_t> seed = std::nullopt);
/// Normal(mean, stddev) redrawn until within 2 stddev of the mean; seeds as glorot_uniform.
Initializer truncated_normal(double mean = 0.0, double stddev = 0.05, std::optional<uint64_t> seed = std::nullopt);
/// All zeros (Keras's default bias initializer).
Initializer zeros();
/// All ones.
Initializer ones();
/// Every element `value`.
Initializer constant(double value);

}  // namespace initializers
}  // namespace kiln::nn
