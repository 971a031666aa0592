// Gradient rules of conv2d and its two backprops, written with the three convolution ops.
//
// Note [Convolution gradients]
// conv2d(x, f) is bilinear, and the backprops are its adjoints: for every x, f, dy
//   <conv2d(x, f), dy> = <x, backprop_input(f, dy)> = <f, backprop_filter(x, dy)>.
// So conv2d's gradient is the two backprops, and each backprop, linear in both its inputs, has
// a gradient made of the other two ops: with g the upstream gradient of dx = backprop_input(f, dy),
//   <g, backprop_input(f, dy)> = <conv2d(g, f), dy> = <f, backprop_filter(g, dy)>,
// and with G that of dfilter = backprop_filter(x, dy),
//   <G, backprop_filter(x, dy)> = <conv2d(x, G), dy> = <x, backprop_input(G, dy)>.
// Every rule is made of the three ops, so gradients of any order follow.
#include "kiln/core/op_def.h"
#include "kiln/ops.h"

namespace kiln {
namespace {
using Grads = std::vector<Tensor>;

std::array<int64_t, 2> strides(const GradContext& c) {
  const Conv2DAttrs& a = c.attrs.as<Conv2DAttrs>();
  return {a.stride_h, a.stride_w};
}
std::string padding(const GradContext& c) {
  return c.attrs.as<Conv2DAttrs>().same_padding ? "same" : "valid";
}
}  // namespace

Grads grad_Conv2D(const GradContext& c) {
  const Tensor &x = c.in[0], &f = c.in[1];
  Tensor gx, gf;
  if (c.needs_grad(0)) gx = conv2d_backprop_input(x.shape(), f, c.grad, strides(c), padding(c));
  if (c.needs_grad(1)) gf = conv2d_backprop_filter(x, f.shape(), c.grad, strides(c), padding(c));
  return {gx, gf};
}

Grads grad_Conv2DBackpropInput(const GradContext& c) {
  const Tensor &f = c.in[0], &dy = c.in[1];
  Tensor gf, gdy;
  if (c.needs_grad(0)) gf = conv2d_backprop_filter(c.grad, f.shape(), dy, strides(c), padding(c));
  if (c.needs_grad(1)) gdy = conv2d(c.grad, f, strides(c), padding(c));
  return {gf, gdy};
}

Grads grad_Conv2DBackpropFilter(const GradContext& c) {
  const Tensor &x = c.in[0], &dy = c.in[1];
  Tensor gx, gdy;
  if (c.needs_grad(0)) gx = conv2d_backprop_input(x.shape(), c.grad, dy, strides(c), padding(c));
  if (c.needs_grad(1)) gdy = conv2d(x, c.grad, strides(c), padding(c));
  return {gx, gdy};
}

}  // namespace kiln
