// Shape and dtype rules of conv2d and its two backprops (TF's NHWC/HWIO layouts and padding).
#include <sstream>

#include "kiln/core/conv_geometry.h"
#include "kiln/core/op_def.h"

namespace kiln {
namespace {

const char* padding_name(const Conv2DAttrs& attrs) { return attrs.same_padding ? "\"same\"" : "\"valid\""; }

std::string strides_str(const Conv2DAttrs& attrs) {
  std::ostringstream s;
  s << "[" << attrs.stride_h << "," << attrs.stride_w << "]";
  return s.str();
}

void check_dtypes(const char* op, const char* a_name, DType a, const char* b_name, DType b) {
  KILN_CHECK(a == b, op, ": dtypes differ: ", a_name, " is ", dtype_name(a), ", ", b_name, " is ", dtype_name(b));
  KILN_CHECK(a == DType::Float32 || a == DType::Float64, op, ": float32 or float64 operands only, got ", dtype_name(a));
}

// Checks the input shape `x`, the filter shape and the attributes of one convolution and
// returns conv2d's output shape [N,OH,OW,F].
Shape conv_output(const char* op, const Shape& x, const Shape& filter, const Conv2DAttrs& attrs) {
  KILN_CHECK(attrs.stride_h > 0 && attrs.stride_w > 0, op,
             ": strides must be two positive values, got ", strides_str(attrs));
  KILN_CHECK(x.rank() == 4, op, ": the input must be 4-D [batch, height, width, channels], got ", x.str());
  KILN_CHECK(filter.rank() == 4, op, ": the filter must be 4-D [height, width, in_channels, out_channels], got ",
             filter.str());
  KILN_CHECK(filter[0] >= 1 && filter[1] >= 1, op, ": the filter's height and width must be at least 1, got filter ",
             filter.str());
  KILN_CHECK(filter[2] == x[3], op, ": the filter's in_channels (", filter[2], ") differ from the input's channels (",
             x[3], "): input is ", x.str(), ", filter is ", filter.str());
  KILN_CHECK(attrs.same_padding || (filter[0] <= x[1] && filter[1] <= x[2]), op, ": the filter [", filter[0], ",", filter[1],
             "] is larger than the input [", x[1], ",", x[2], "] with padding \"valid\": input is ", x.str(),
             ", filter is ", filter.str());
  const Conv2DGeometry g =
      conv2d_geometry(1, x[1], x[2], x[3], filter[0], filter[1], filter[3], attrs.stride_h, attrs.stride_w,
                      attrs.same_padding);
  return Shape::of_dims({x.sym(0), g.oh, g.ow, g.f});  // the batch may be a -1 dim (Note [Symbolic dims])
}

// dy must have conv2d's output shape.
void check_dy(const char* op, const Shape& dy, const Shape& x, const Shape& filter, const Conv2DAttrs& attrs) {
  const Shape want = conv_output(op, x, filter, attrs);
  KILN_CHECK(dy == want, op, ": dy is ", dy.str(), ", expected ", want.str(), " (conv2d's output for input ", x.str(),
             ", filter ", filter.str(), ", strides ", strides_str(attrs), ", padding ", padding_name(attrs), ")");
}

}  // namespace

TensorMeta infer_Conv2D(Inputs in, const OpAttrs& attrs) {
  const Tensor &x = in[0], &filter = in[1];
  check_dtypes("conv2d", "input", x.dtype(), "filter", filter.dtype());
  return {conv_output("conv2d", x.shape(), filter.shape(), attrs.as<Conv2DAttrs>()), x.dtype()};
}

TensorMeta infer_Conv2DBackpropInput(Inputs in, const OpAttrs& attrs) {
  const Tensor &filter = in[0], &dy = in[1];
  check_dtypes("conv2d_backprop_input", "filter", filter.dtype(), "dy", dy.dtype());
  const Conv2DAttrs& a = attrs.as<Conv2DAttrs>();
  check_dy("conv2d_backprop_input", dy.shape(), a.input_shape, filter.shape(), a);
  return {a.input_shape, filter.dtype()};
}

TensorMeta infer_Conv2DBackpropFilter(Inputs in, const OpAttrs& attrs) {
  const Tensor &x = in[0], &dy = in[1];
  check_dtypes("conv2d_backprop_filter", "input", x.dtype(), "dy", dy.dtype());
  const Conv2DAttrs& a = attrs.as<Conv2DAttrs>();
  check_dy("conv2d_backprop_filter", dy.shape(), x.shape(), a.input_shape, a);
  return {a.input_shape, x.dtype()};
}

}  // namespace kiln
