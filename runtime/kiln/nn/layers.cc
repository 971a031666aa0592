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
  KILN_CHECK(x.rank() >= 2, "dense '", name(), "': expected a rank-2 (or higher) input [batch, ..., features], got ",
             x.type_str());
  KILN_CHECK(x.dtype() == options_.dtype, "dense '", name(), "': input is ", x.type_str(), " but the layer's dtype is ",
             dtype_name(options_.dtype), " (cast the input, or set DenseOptions::dtype)");
  const int64_t features = x.dim(-1);
  if (!built()) build(features);
  KILN_CHECK(features == kernel_.dim(0), "dense '", name(), "': input ", x.type_str(), " has ", features,
             " features, but the layer was built for ", kernel_.dim(0), " (kernel ", kernel_.shape().str(), ")");
  // A higher-rank input (Keras' tensordot over the last axis) folds its leading dims into one
  // row dim, so that the contraction stays one 2-D matmul: one GEMM call in compiled code, with
  // the bias and activation in its epilogue. The dims are taken as stored, so under
  // kiln::function a -1 leading dim stays a symbol and the rows its product with the others
  // (Note [Symbolic dims]): one compiled code for every size. The rows are computed rather than
  // left to reshape's -1, which an empty batch cannot infer.
  Tensor rows = x;
  if (x.rank() > 2) {
    int64_t n = 1;
    for (int i = 0; i + 1 < x.rank(); ++i) n = dim_mul(n, x.shape().sym(i));
    rows = reshape(x, {n, features});
  }
  Tensor y = matmul(rows, kernel_);
  if (options_.use_bias) y = y + bias_;
  if (options_.activation) y = options_.activation(y);
  if (x.rank() == 2) return y;
  std::vector<int64_t> out = x.shape().sym_vec();
  out.back() = units_;
  return reshape(y, out);
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
