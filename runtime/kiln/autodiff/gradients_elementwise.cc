// Gradient rules of the elementwise, softmax and loss ops, written with Kiln's public ops so
// they run eagerly, are recorded by outer tapes (higher-order gradients) and trace like any op.
#include "kiln/core/op_def.h"
#include "kiln/ops.h"

namespace kiln {
namespace {
using Grads = std::vector<Tensor>;


// g summed back to each operand's shape (undoing broadcasting), only where needed.
Grads reduce_to_inputs(const GradContext& c, const Tensor& ga, const Tensor& gb) {
  return {c.needs_grad(0) && ga.defined() ? sum_to_shape(ga, c.in[0].shape()) : Tensor(),
          c.needs_grad(1) && gb.defined() ? sum_to_shape(gb, c.in[1].shape()) : Tensor()};
}

// The gradient [N] of a per-row loss as a column [N,1] that broadcasts over classes.
Tensor as_column(const Tensor& g) { return reshape(g, {g.shape().sym(0), 1}); }
}  // namespace

Grads grad_Add(const GradContext& c) { return reduce_to_inputs(c, c.grad, c.grad); }
Grads grad_Sub(const GradContext& c) {
  return reduce_to_inputs(c, c.grad, c.needs_grad(1) ? neg(c.grad) : Tensor());
}
Grads grad_Mul(const GradContext& c) {
  return reduce_to_inputs(c, c.needs_grad(0) ? c.grad * c.in[1] : Tensor(),
                          c.needs_grad(1) ? c.grad * c.in[0] : Tensor());
}
Grads grad_Div(const GradContext& c) {
  const Tensor &a = c.in[0], &b = c.in[1];
  return reduce_to_inputs(c, c.needs_grad(0) ? c.grad / b : Tensor(),
                          c.needs_grad(1) ? neg(c.grad) * a / (b * b) : Tensor());
}
Grads grad_Pow(const GradContext& c) {
  const Tensor &a = c.in[0], &b = c.in[1];
  Tensor ga, gb;
  if (c.needs_grad(0)) ga = c.grad * b * pow(a, b - 1.0);
  // d/db a^b = a^b log a, taken as 0 where a <= 0 (as TF does).
  if (c.needs_grad(1)) {
    Tensor positive = greater(a, zeros_like(a));
    Tensor safe_a = where(positive, a, ones_like(a));
    gb = c.grad * where(positive, c.out * log(safe_a), zeros_like(c.out));
  }
  return reduce_to_inputs(c, ga, gb);
}
Grads grad_Maximum(const GradContext& c) {
  Tensor b_wins = less(c.in[0], c.in[1]);
  Tensor z = zeros_like(c.grad);
  return reduce_to_inputs(c, where(b_wins, z, c.grad), where(b_wins, c.grad, z));
}
Grads grad_Minimum(const GradContext& c) {
  Tensor b_wins = less(c.in[1], c.in[0]);
  Tensor z = zeros_like(c.grad);
  return reduce_to_inputs(c, where(b_wins, z, c.grad), where(b_wins, c.grad, z));
}
Grads grad_Where(const GradContext& c) {
  Tensor z = zeros_like(c.grad);
  Tensor gx = c.needs_grad(1) ? sum_to_shape(where(c.in[0], c.grad, z), c.in[1].shape()) : Tensor();
  Tensor gy = c.needs_grad(2) ? sum_to_shape(where(c.in[0], z, c.grad), c.in[2].shape()) : Tensor();
  return {Tensor(), gx, gy};
}

Grads grad_Neg(const GradContext& c) { return {neg(c.grad)}; }
Grads grad_Exp(const GradContext& c) { return {c.grad * c.out}; }
Grads grad_Log(const GradContext& c) { return {c.grad / c.in[0]}; }
Grads grad_Sqrt(const GradContext& c) { return {c.grad * 0.5 / c.out}; }
Grads grad_Rsqrt(const GradContext& c) { return {c.grad * -0.5 * c.out * c.out * c.out}; }
Grads grad_Square(const GradContext& c) { return {c.grad * 2.0 * c.in[0]}; }
Grads grad_Abs(const GradContext& c) {
  const Tensor& x = c.in[0];
  Tensor z = zeros_like(x);
  return {where(greater(x, z), c.grad, where(less(x, z), neg(c.grad), zeros_like(c.grad)))};
}
// From relu's output, as TF's ReluGrad (y > 0 exactly where x > 0, NaN included): then a
// compiled step need not keep the pre-activation sum, and a contraction's bias add and relu
// fuse into its epilogue (Note [Contraction epilogues] in compiler/.../passes/ContractionsToCalls.cc).
Grads grad_Relu(const GradContext& c) { return {relu_grad(c.grad, c.out)}; }
// relu_grad is linear in dy and piecewise constant in x (zero gradient almost everywhere).
Grads grad_ReluGrad(const GradContext& c) { return {relu_grad(c.grad, c.in[1]), Tensor()}; }
Grads grad_Sigmoid(const GradContext& c) { return {c.grad * c.out * (1.0 - c.out)}; }
Grads grad_Tanh(const GradContext& c) { return {c.grad * (1.0 - c.out * c.out)}; }
// Linear in x with the mask u fixed; u (random numbers) gets no gradient.
Grads grad_Dropout(const GradContext& c) {
  return {dropout_with_uniform(c.grad, c.in[1], c.attrs.as<DropoutAttrs>().rate), Tensor()};
}
Grads grad_Cast(const GradContext& c) {
  if (!is_floating(c.in[0].dtype()) || !is_floating(c.out.dtype())) return {Tensor()};
  return {cast(c.grad, c.in[0].dtype())};
}

Grads grad_Softmax(const GradContext& c) {
  const Tensor& y = c.out;
  return {y * (c.grad - reduce_sum(c.grad * y, {-1}, true))};
}
Grads grad_LogSoftmax(const GradContext& c) {
  return {c.grad - exp(c.out) * reduce_sum(c.grad, {-1}, true)};
}

// loss_i = -sum_k y_ik log p_ik with p = softmax(x):
//   dloss_i/dx_ik = p_ik * sum_j y_ij - y_ik,   dloss_i/dy_ik = -log p_ik.
Grads grad_SoftmaxCrossEntropy(const GradContext& c) {
  const Tensor &labels = c.in[0], &logits = c.in[1];
  Tensor g = as_column(c.grad);
  Tensor glabels = c.needs_grad(0) ? neg(g) * log_softmax(logits) : Tensor();
  Tensor glogits;
  if (c.needs_grad(1)) glogits = g * (softmax(logits) * reduce_sum(labels, {-1}, true) - labels);
  return {glabels, glogits};
}

Grads grad_SparseSoftmaxCrossEntropy(const GradContext& c) {
  const Tensor &labels = c.in[0], &logits = c.in[1];
  Tensor onehot = one_hot(labels, logits.dim(1), 1.0, 0.0, logits.dtype());
  return {Tensor(), as_column(c.grad) * (softmax(logits) - onehot)};
}

}  // namespace kiln
