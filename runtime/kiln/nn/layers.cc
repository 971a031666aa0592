// Dense and Flatten: shape checks that name the layer, then a few ops.
#include "kiln/nn/layers.h"

#include "kiln/ops.h"

namespace kiln::nn {

Dense::Dense(int64_t units, DenseOptions options, std::string name)
    : Layer(name.empty() ? unique_name("dense") : std::move(name)), units_(units), options_(std::move(options)) {
  KILN_CHECK(units_ > 0, "dense '", this->name(), "': units must be positive, got ", units_);
  KILN_CHECK(is_floating(options_.dtype), "dense '", this->name(), "': dtype must be float32 or float64, got ",
             dtype_name(options_.dtype));
  if (!options_.kernel_initializer) options_.kernel_initializer = initializers::glorot_uniform();
  if (!options_.bias_initializer) options_.bias_initializer = initializers::zeros();
  if (options_.input_dim > 0) build(options_.input_dim);
}

void Dense::build(int64_t input_dim) {
  KILN_CHECK(!built(), "dense '", name(), "': already built with kernel ", kernel_.shape().str());
  KILN_CHECK(input_dim > 0, "dense '", name(), "': input_dim must be positive, got ", input_dim);
  const Shape kernel_shape{input_dim, units_}, bias_shape{units_};
  const std::string who = "dense '" + name() + "': ";
  Tensor k = initial_value(options_.kernel_initializer, kernel_shape, options_.dtype, who + "kernel_initializer");
  Tensor b;
  if (options_.use_bias) b = initial_value(options_.bias_initializer, bias_shape, options_.dtype, who + "bias_initializer");
  kernel_ = add_variable("kernel", k);
  if (options_.use_bias) bias_ = add_variable("bias", b);
}

Tensor Dense::call(const Tensor& x) {
  KILN_CHECK(x.defined(), "dense '", name(), "': input is an undefined Tensor");
  KILN_CHECK(x.rank() == 2, "dense '", name(), "': expected a rank-2 input [batch, features], got ", x.type_str());
  KILN_CHECK(x.dtype() == options_.dtype, "dense '", name(), "': input is ", x.type_str(), " but the layer's dtype is ",
             dtype_name(options_.dtype), " (cast the input, or set DenseOptions::dtype)");
  if (!built()) build(x.dim(1));
  KILN_CHECK(x.dim(1) == kernel_.dim(0), "dense '", name(), "': input ", x.type_str(), " has ", x.dim(1),
             " features, but the layer was built for ", kernel_.dim(0), " (kernel ", kernel_.shape().str(), ")");
  Tensor y = matmul(x, kernel_);
  if (options_.use_bias) y = y + bias_;
  return options_.activation ? options_.activation(y) : y;
}

const Variable& Dense::kernel() const {
  KILN_CHECK(built(), "dense '", name(), "': kernel() before the layer is built (call it once, or set input_dim)");
  return kernel_;
}

const Variable& Dense::bias() const {
  KILN_CHECK(built(), "dense '", name(), "': bias() before the layer is built (call it once, or set input_dim)");
  KILN_CHECK(options_.use_bias, "dense '", name(), "': bias() of a layer built with use_bias = false");
  return bias_;
}

Flatten::Flatten(std::string name) : Layer(name.empty() ? unique_name("flatten") : std::move(name)) {}

Tensor Flatten::call(const Tensor& x) {
  KILN_CHECK(x.defined(), "flatten '", name(), "': input is an undefined Tensor");
  KILN_CHECK(x.rank() >= 1, "flatten '", name(), "': expected an input of rank >= 1 [batch, ...], got ", x.type_str());
  // The product is computed rather than left to reshape's -1, which cannot be inferred when the
  // batch is empty.
  int64_t features = 1;
  for (int i = 1; i < x.rank(); ++i) features *= x.dim(i);
  return reshape(x, {x.shape().sym(0), features});  // the batch may be a -1 dim (Note [Symbolic dims])
}

}  // namespace kiln::nn
