// The initializers, written with kiln's creation and random ops.
#include "kiln/nn/initializers.h"

#include <algorithm>
#include <cmath>

#include "kiln/ops.h"

namespace kiln::nn {

Tensor initial_value(const Initializer& init, const Shape& shape, DType dtype, const std::string& who) {
  Tensor t = init(shape, dtype);
  KILN_CHECK(t.defined() && t.shape() == shape && t.dtype() == dtype, who, " returned ",
             t.defined() ? t.type_str() : "an undefined tensor", ", expected ", dtype_name(dtype), shape.str());
  return t;
}

namespace initializers {

Fans compute_fans(const Shape& shape) {
  if (shape.rank() == 0) return {1.0, 1.0};
  if (shape.rank() == 1) return {static_cast<double>(shape[0]), static_cast<double>(shape[0])};
  if (shape.rank() == 2) return {static_cast<double>(shape[0]), static_cast<double>(shape[1])};
  double receptive_field = 1.0;
  for (int i = 0; i < shape.rank() - 2; ++i) receptive_field *= static_cast<double>(shape[i]);
  return {static_cast<double>(shape.dim(-2)) * receptive_field, static_cast<double>(shape.dim(-1)) * receptive_field};
}

Initializer glorot_uniform(std::optional<uint64_t> seed) {
  return [seed](const Shape& shape, DType dtype) {
    KILN_CHECK(is_floating(dtype), "glorot_uniform: dtype must be float32 or float64, got ", dtype_name(dtype));
    Fans fans = compute_fans(shape);
    // Keras: scale = 1 / max(1, (fan_in + fan_out) / 2), limit = sqrt(3 * scale).
    double limit = std::sqrt(3.0 / std::max(1.0, (fans.fan_in + fans.fan_out) / 2.0));
    if (!seed) return kiln::random_uniform(shape, -limit, limit, dtype);
    Generator gen(*seed);
    return kiln::random_uniform(shape, -limit, limit, dtype, &gen);
  };
}

Initializer truncated_normal(double mean, double stddev, std::optional<uint64_t> seed) {
  KILN_CHECK(stddev >= 0, "truncated_normal initializer: stddev must be >= 0, got ", stddev);
  return [mean, stddev, seed](const Shape& shape, DType dtype) {
    KILN_CHECK(is_floating(dtype), "truncated_normal initializer: dtype must be float32 or float64, got ",
               dtype_name(dtype));
    if (!seed) return kiln::truncated_normal(shape, mean, stddev, dtype);
    Generator gen(*seed);
    return kiln::truncated_normal(shape, mean, stddev, dtype, &gen);
  };
}

Initializer zeros() {
  return [](const Shape& shape, DType dtype) { return kiln::zeros(shape, dtype); };
}

Initializer ones() {
  return [](const Shape& shape, DType dtype) { return kiln::ones(shape, dtype); };
}

Initializer constant(double value) {
  return [value](const Shape& shape, DType dtype) { return kiln::fill(shape, value, dtype); };
}

}  // namespace initializers
}  // namespace kiln::nn
