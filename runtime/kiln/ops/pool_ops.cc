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

OpAttrs pool_attrs(std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides, const std::string& padding,
                   const char* op) {
  OpAttrs attrs;
  attrs.ints = IntList{ksize[0], ksize[1], strides[0], strides[1]};
  attrs.b0 = is_same_padding(padding, op);
  return attrs;
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
  OpAttrs attrs = pool_attrs(ksize, strides, padding, "avg_pool2d_grad");
  attrs.shape = input_shape;
  const Tensor in[] = {dy};
  return call_op(OpId::AvgPool2DGrad, in, attrs);
}

}  // namespace kiln
