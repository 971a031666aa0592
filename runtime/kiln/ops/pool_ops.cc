// The public pooling ops: each packs ksize, strides and padding into the attributes of its row
// (ints = {kh, kw, sh, sw}, b0 = same padding) and goes through call_op.
#include <cctype>

#include "kiln/core/dispatch.h"
#include "kiln/ops.h"

namespace kiln {
namespace {

// "valid" or "same", in any case (TF spells them "VALID" and "SAME", Keras "valid" and "same").
bool is_same_padding(const std::string& padding, const char* op) {
  std::string p;
  for (char ch : padding) p += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  KILN_CHECK(p == "valid" || p == "same", op, ": unknown padding '", padding, "' (use \"valid\" or \"same\")");
  return p == "same";
}

Pool2DAttrs pool_attrs(std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides, const std::string& padding,
                   const char* op) {
  return Pool2DAttrs{.kh = ksize[0], .kw = ksize[1], .sh = strides[0], .sw = strides[1],
                     .same_padding = is_same_padding(padding, op), .input_shape = {}};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides,
                  const std::string& padding) {
  const Tensor in[] = {x};
  return call_op(OpId::MaxPool2D, in, pool_attrs(ksize, strides, padding, "max_pool2d"));
}

Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides,
                  const std::string& padding) {
  const Tensor in[] = {x};
  return call_op(OpId::AvgPool2D, in, pool_attrs(ksize, strides, padding, "avg_pool2d"));
}

Tensor max_pool2d_grad(const Tensor& x, const Tensor& y, const Tensor& dy, std::array<int64_t, 2> ksize,
                       std::array<int64_t, 2> strides, const std::string& padding) {
  const Tensor in[] = {x, y, dy};
  return call_op(OpId::MaxPool2DGrad, in, pool_attrs(ksize, strides, padding, "max_pool2d_grad"));
}

Tensor max_pool2d_grad_grad(const Tensor& x, const Tensor& y, const Tensor& g, std::array<int64_t, 2> ksize,
                            std::array<int64_t, 2> strides, const std::string& padding) {
  const Tensor in[] = {x, y, g};
  return call_op(OpId::MaxPool2DGradGrad, in, pool_attrs(ksize, strides, padding, "max_pool2d_grad_grad"));
}

Tensor avg_pool2d_grad(const Shape& input_shape, const Tensor& dy, std::array<int64_t, 2> ksize,
                       std::array<int64_t, 2> strides, const std::string& padding) {
  Pool2DAttrs attrs = pool_attrs(ksize, strides, padding, "avg_pool2d_grad");
  attrs.input_shape = input_shape;
  const Tensor in[] = {dy};
  return call_op(OpId::AvgPool2DGrad, in, attrs);
}

}  // namespace kiln
