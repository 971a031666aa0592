// Shape and dtype rules of the pooling ops, their gradient ops, and dropout.
#include <string>

#include "kiln/core/op_def.h"
#include "kiln/core/pool_geometry.h"

namespace kiln {
namespace {

// The window, strides and input of a pooling op, checked; `what` names the tensor ("x", "dy").
PoolGeometry checked_geometry(const Shape& x, DType dtype, const OpAttrs& attrs, const char* op, const char* what) {
  KILN_ASSERT(attrs.ints.size() == 4, "pooling attributes are {kh, kw, sh, sw}");
  KILN_CHECK(x.rank() == 4, op, ": ", what, " must be 4-D [batch, height, width, channels], got ", dtype_name(dtype),
             x.str());
  KILN_CHECK(is_floating(dtype), op, ": ", what, " must be float32 or float64, got ", dtype_name(dtype), x.str());
  KILN_CHECK(attrs.ints[0] >= 1 && attrs.ints[1] >= 1, op, ": ksize must be at least 1, got [", attrs.ints[0], ",",
             attrs.ints[1], "]");
  KILN_CHECK(attrs.ints[2] >= 1 && attrs.ints[3] >= 1, op, ": strides must be at least 1, got [", attrs.ints[2], ",",
             attrs.ints[3], "]");
  KILN_CHECK(attrs.b0 || (x[1] >= attrs.ints[0] && x[2] >= attrs.ints[1]), op, ": the ", attrs.ints[0], "x",
             attrs.ints[1], " window is larger than the ", x[1], "x", x[2], " (height x width) input ", x.str(),
             " with valid padding");
  return PoolGeometry::of(x, attrs);
}

void check_same(const Tensor& t, const Shape& shape, DType dtype, const char* op, const char* what, const char* expected) {
  KILN_CHECK(t.dtype() == dtype && t.shape() == shape, op, ": ", what, " is ", t.type_str(), ", expected ",
             dtype_name(dtype), shape.str(), " (", expected, ")");
}

}  // namespace

TensorMeta infer_MaxPool2D(Inputs in, const OpAttrs& attrs) {
  return {checked_geometry(in[0].shape(), in[0].dtype(), attrs, "max_pool2d", "x").output_shape(), in[0].dtype()};
}

TensorMeta infer_AvgPool2D(Inputs in, const OpAttrs& attrs) {
  return {checked_geometry(in[0].shape(), in[0].dtype(), attrs, "avg_pool2d", "x").output_shape(), in[0].dtype()};
}

// (x, y, dy): y and dy have the pooled shape.
TensorMeta infer_MaxPool2DGrad(Inputs in, const OpAttrs& attrs) {
  const char* op = "max_pool2d_grad";
  const Tensor& x = in[0];
  const Shape pooled = checked_geometry(x.shape(), x.dtype(), attrs, op, "x").output_shape();
  check_same(in[1], pooled, x.dtype(), op, "y", "max_pool2d of x");
  check_same(in[2], pooled, x.dtype(), op, "dy", "the shape of y");
  return {x.shape(), x.dtype()};
}

// (x, y, g): y has the pooled shape, g the input's.
TensorMeta infer_MaxPool2DGradGrad(Inputs in, const OpAttrs& attrs) {
  const char* op = "max_pool2d_grad_grad";
  const Tensor& x = in[0];
  const Shape pooled = checked_geometry(x.shape(), x.dtype(), attrs, op, "x").output_shape();
  check_same(in[1], pooled, x.dtype(), op, "y", "max_pool2d of x");
  check_same(in[2], x.shape(), x.dtype(), op, "g", "the shape of x");
  return {pooled, x.dtype()};
}

// (dy), attrs.shape = the input's shape.
TensorMeta infer_AvgPool2DGrad(Inputs in, const OpAttrs& attrs) {
  const char* op = "avg_pool2d_grad";
  const Tensor& dy = in[0];
  KILN_CHECK(attrs.shape.rank() == 4, op, ": input_shape must be 4-D [batch, height, width, channels], got ",
             attrs.shape.str());
  const Shape pooled = checked_geometry(attrs.shape, dy.dtype(), attrs, op, "input_shape").output_shape();
  check_same(dy, pooled, dy.dtype(), op, "dy", "avg_pool2d's result for the input shape");
  return {attrs.shape, dy.dtype()};
}

TensorMeta infer_Dropout(Inputs in, const OpAttrs& attrs) {
  const Tensor &x = in[0], &u = in[1];
  KILN_CHECK(is_floating(x.dtype()), "dropout: x must be float32 or float64, got ", x.type_str());
  KILN_CHECK(attrs.f0 >= 0 && attrs.f0 < 1, "dropout: rate must be in [0, 1), got ", attrs.f0);
  check_same(u, x.shape(), x.dtype(), "dropout", "the uniform noise u", "x's dtype and shape");
  return {x.shape(), x.dtype()};
}

}  // namespace kiln
