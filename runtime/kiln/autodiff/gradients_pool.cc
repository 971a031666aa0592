// Gradient rules of the pooling ops and their gradient ops, written with Kiln's public ops so
// that they nest: max_pool2d -> max_pool2d_grad -> max_pool2d_grad_grad -> max_pool2d_grad ...,
// and avg_pool2d <-> avg_pool2d_grad (each the other's transpose).
#include "kiln/core/op_def.h"
#include "kiln/ops.h"

namespace kiln {
namespace {
using Grads = std::vector<Tensor>;

// The public functions' arguments back from a row's attributes.
struct PoolArgs {
  std::array<int64_t, 2> ksize, strides;
  std::string padding;
};
PoolArgs pool_args(const OpAttrs& attrs) {
  const Pool2DAttrs& a = attrs.as<Pool2DAttrs>();
  return {{a.kh, a.kw}, {a.sh, a.sw}, a.same_padding ? "same" : "valid"};
}
}  // namespace

Grads grad_MaxPool2D(const GradContext& c) {
  const PoolArgs p = pool_args(c.attrs);
  return {max_pool2d_grad(c.in[0], c.out, c.grad, p.ksize, p.strides, p.padding)};
}

// Linear in dy; where the maxima are is piecewise constant in x (and y is not read), so the
// gradients wrt x and y are zero (left undefined).
Grads grad_MaxPool2DGrad(const GradContext& c) {
  if (!c.needs_grad(2)) return {Tensor(), Tensor(), Tensor()};
  const PoolArgs p = pool_args(c.attrs);
  return {Tensor(), Tensor(), max_pool2d_grad_grad(c.in[0], c.in[1], c.grad, p.ksize, p.strides, p.padding)};
}

// Linear in g (its transpose is max_pool2d_grad); zero wrt x and y as above.
Grads grad_MaxPool2DGradGrad(const GradContext& c) {
  if (!c.needs_grad(2)) return {Tensor(), Tensor(), Tensor()};
  const PoolArgs p = pool_args(c.attrs);
  return {Tensor(), Tensor(), max_pool2d_grad(c.in[0], c.in[1], c.grad, p.ksize, p.strides, p.padding)};
}

Grads grad_AvgPool2D(const GradContext& c) {
  const PoolArgs p = pool_args(c.attrs);
  return {avg_pool2d_grad(c.in[0].shape(), c.grad, p.ksize, p.strides, p.padding)};
}

// avg_pool2d_grad is the transpose of the (linear) avg_pool2d, so its transpose is avg_pool2d.
Grads grad_AvgPool2DGrad(const GradContext& c) {
  const PoolArgs p = pool_args(c.attrs);
  return {avg_pool2d(c.grad, p.ksize, p.strides, p.padding)};
}

}  // namespace kiln
