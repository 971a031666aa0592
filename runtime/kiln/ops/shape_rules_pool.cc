// Shape and dtype rules of the pooling ops, their gradient ops, and dropout.
#include <string>

#include "kiln/core/op_def.h"
#include "kiln/core/pool_geometry.h"

namespace kiln {
namespace {

// The window, strides and input of a pooling op, checked; `what` names the tensor ("x", "dy").
PoolGeometry checked_geometry(const Shape& x, DType dtype, const OpAttrs& attrs, const char* op, const char* what) {
  const Pool2DAttrs& a = attrs.as<Pool2DAttrs>();
  KILN_CHECK(x.rank() == 4, op, ": ", what, " must be 4-D [batch, height, width, channels], got ", dtype_name(dtype),
             x.str());
  KILN_CHECK(is_floating(dtype), op, ": ", what, " must be float32 or float64, got ", dtype_name(dtype), x.str());
  KILN_CHECK(a.kh >= 1 && a.kw >= 1, op, ": ksize must be at least 1, got [", a.kh, ",", a.kw, "]");
  KILN_CHECK(a.sh >= 1 && a.sw >= 1, op, ": strides must be at least 1, got [", a.sh, ",", a.sw, "]");
  KILN_CHECK(a.same_padding || (x[1] >= a.kh && x[2] >= a.kw), op, ": the ", a.kh, "x", a.kw,
             " window is larger than the ", x[1], "x", x[2], " (height x width) input ", x.str(), " with valid padding");
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

// (dy) -> dx of input_shape.
TensorMeta infer_AvgPool2DGrad(Inputs in, const OpAttrs& attrs) {
  const char* op = "avg_pool2d_grad";
  const Tensor& dy = in[0];
  const Shape& input_shape = attrs.as<Pool2DAttrs>().input_shape;
  KILN_CHECK(input_shape.rank() == 4, op, ": input_shape must be 4-D [batch, height, width, channels], got ",
             input_shape.str());
  const Shape pooled = checked_geometry(input_shape, dy.dtype(), attrs, op, "input_shape").output_shape();
  check_same(dy, pooled, dy.dtype(), op, "dy", "avg_pool2d's result for the input shape");
  return {input_shape, dy.dtype()};
}

TensorMeta infer_Dropout(Inputs in, const OpAttrs& attrs) {
  const Tensor &x = in[0], &u = in[1];
  KILN_CHECK(is_floating(x.dtype()), "dropout: x must be float32 or float64, got ", x.type_str());
  const double rate = attrs.as<DropoutAttrs>().rate;
  KILN_CHECK(rate >= 0 && rate < 1, "dropout: rate must be in [0, 1), got ", rate);
  check_same(u, x.shape(), x.dtype(), "dropout", "the uniform noise u", "x's dtype and shape");
  return {x.shape(), x.dtype()};
}

}  // namespace kiln
