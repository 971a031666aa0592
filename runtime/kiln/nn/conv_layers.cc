// Conv2D: option and shape checks that name the layer, then conv2d, the bias and the activation.
#include "kiln/nn/conv_layers.h"

#include "kiln/ops.h"

namespace kiln::nn {

Conv2D::Conv2D(int64_t filters, std::array<int64_t, 2> kernel_size, Conv2DOptions options, std::string name)
    : Layer(name.empty() ? unique_name("conv2d") : std::move(name)),
      filters_(filters),
      kernel_size_(kernel_size),
      options_(std::move(options)) {
  const std::string& n = this->name();
  KILN_CHECK(filters_ > 0, "Conv2D '", n, "': filters must be positive, got ", filters_);
  KILN_CHECK(kernel_size_[0] > 0 && kernel_size_[1] > 0, "Conv2D '", n, "': kernel_size must be positive, got [",
             kernel_size_[0], ",", kernel_size_[1], "]");
  KILN_CHECK(options_.strides[0] > 0 && options_.strides[1] > 0, "Conv2D '", n, "': strides must be positive, got [",
             options_.strides[0], ",", options_.strides[1], "]");
  KILN_CHECK(options_.padding == "valid" || options_.padding == "same", "Conv2D '", n,
             "': padding must be \"valid\" or \"same\", got \"", options_.padding, "\"");
  KILN_CHECK(is_floating(options_.dtype), "Conv2D '", n, "': dtype must be float32 or float64, got ",
             dtype_name(options_.dtype));
  if (!options_.kernel_initializer) options_.kernel_initializer = initializers::glorot_uniform();
  if (!options_.bias_initializer) options_.bias_initializer = initializers::zeros();
}

void Conv2D::build(int64_t channels) {
  KILN_CHECK(!built(), "Conv2D '", name(), "': already built with kernel ", kernel_.shape().str());
  KILN_CHECK(channels > 0, "Conv2D '", name(), "': channels must be positive, got ", channels);
  const Shape kernel_shape{kernel_size_[0], kernel_size_[1], channels, filters_}, bias_shape{filters_};
  const std::string who = "Conv2D '" + name() + "': ";
  Tensor k = initial_value(options_.kernel_initializer, kernel_shape, options_.dtype, who + "kernel_initializer");
  Tensor b;
  if (options_.use_bias) b = initial_value(options_.bias_initializer, bias_shape, options_.dtype, who + "bias_initializer");
  kernel_ = add_variable("kernel", k);
  if (options_.use_bias) bias_ = add_variable("bias", b);
}

Tensor Conv2D::call(const Tensor& x) {
  KILN_CHECK(x.defined(), "Conv2D '", name(), "': input is an undefined Tensor");
  KILN_CHECK(x.rank() == 4, "Conv2D '", name(), "' expects a 4-D input [batch, height, width, channels], got ",
             x.type_str());
  KILN_CHECK(x.dtype() == options_.dtype, "Conv2D '", name(), "': input is ", x.type_str(), " but the layer's dtype is ",
             dtype_name(options_.dtype), " (cast the input, or set Conv2DOptions::dtype)");
  if (!built()) build(x.dim(3));
  KILN_CHECK(x.dim(3) == kernel_.dim(2), "Conv2D '", name(), "': input ", x.type_str(), " has ", x.dim(3),
             " channels, but the layer was built for ", kernel_.dim(2), " (kernel ", kernel_.shape().str(), ")");
  KILN_CHECK(options_.padding == "same" || (x.dim(1) >= kernel_size_[0] && x.dim(2) >= kernel_size_[1]), "Conv2D '",
             name(), "': input ", x.type_str(), " is smaller than the kernel [", kernel_size_[0], ",", kernel_size_[1],
             "] with padding \"valid\"");
  Tensor y = conv2d(x, kernel_, options_.strides, options_.padding);
  if (options_.use_bias) y = y + bias_;
  return options_.activation ? options_.activation(y) : y;
}

const Variable& Conv2D::kernel() const {
  KILN_CHECK(built(), "Conv2D '", name(), "': kernel() before the layer is built (call it once, or build(channels))");
  return kernel_;
}

const Variable& Conv2D::bias() const {
  KILN_CHECK(built(), "Conv2D '", name(), "': bias() before the layer is built (call it once, or build(channels))");
  KILN_CHECK(options_.use_bias, "Conv2D '", name(), "': bias() of a layer built with use_bias = false");
  return bias_;
}

}  // namespace kiln::nn
