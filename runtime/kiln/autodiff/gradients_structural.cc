// Gradient rules of contractions, reductions and shape ops, written with Kiln's public ops.
#include <optional>

#include "kiln/core/op_def.h"
#include "kiln/ops.h"

namespace kiln {
namespace {
using Grads = std::vector<Tensor>;

// The reduced result's gradient reshaped with kept dims, then broadcast to the input's shape.
Tensor expand_reduced(const GradContext& c, const Tensor& g) {
  const Shape& s = c.in[0].shape();
  Shape kd = s;
  const IntList& axes = c.attrs.as<ReduceAttrs>().axes;
  if (axes.empty())
    for (int i = 0; i < s.rank(); ++i) kd[i] = 1;
  for (int64_t a : axes) kd[normalize_axis(a, s.rank(), "reduce")] = 1;
  return broadcast_to(reshape(g, kd.sym_vec()), s);
}
}  // namespace

// C = op(A) op(B): each case below is d/dA and d/dB of the four transpose combinations.
Grads grad_MatMul(const GradContext& c) {
  const Tensor &a = c.in[0], &b = c.in[1], &g = c.grad;
  const MatMulAttrs& attrs = c.attrs.as<MatMulAttrs>();
  const bool ta = attrs.transpose_a, tb = attrs.transpose_b;
  Tensor ga, gb;
  if (c.needs_grad(0)) {
    if (!ta) ga = tb ? matmul(g, b) : matmul(g, b, false, true);
    else ga = tb ? matmul(b, g, true, true) : matmul(b, g, false, true);
  }
  if (c.needs_grad(1)) {
    if (!tb) gb = ta ? matmul(a, g) : matmul(a, g, true, false);
    else gb = ta ? matmul(g, a, true, true) : matmul(g, a, true, false);
  }
  return {ga, gb};
}

Grads grad_ReduceSum(const GradContext& c) { return {expand_reduced(c, c.grad)}; }
// Each input element gets the result's gradient over the count of elements it was averaged
// with: a constant, or, where the count is built from -1 dims (Note [Symbolic dims]), the
// count computed by the graph (the sum of ones over the reduced axes), never a number from the
// first trace's sizes.
Grads grad_ReduceMean(const GradContext& c) {
  const int64_t in_n = c.in[0].shape().sym_num_elements(), out_n = c.out.shape().sym_num_elements();
  std::optional<int64_t> count = out_n == 0 ? std::optional<int64_t>(in_n) : dim_div(in_n, out_n);
  if (!count) count = dim_value(in_n, "reduce_mean's gradient") / std::max<int64_t>(dim_value(out_n), 1);
  if (!is_symbolic_dim(*count)) return {expand_reduced(c, c.grad) / static_cast<double>(*count)};
  const IntList& reduced = c.attrs.as<ReduceAttrs>().axes;
  const Axes axes = reduced.empty() ? Axes{} : Axes(reduced.begin(), reduced.end());
  return {expand_reduced(c, c.grad) / reduce_sum(ones_like(c.in[0]), axes, /*keepdims=*/true)};
}
// The gradient goes to the maxima, split evenly among ties (as TF does).
Grads grad_ReduceMax(const GradContext& c) {
  const Tensor& x = c.in[0];
  Tensor is_max = cast(equal(x, expand_reduced(c, c.out)), x.dtype());
  const ReduceAttrs& attrs = c.attrs.as<ReduceAttrs>();
  const Axes axes = attrs.axes.empty() ? Axes{} : Axes(attrs.axes.begin(), attrs.axes.end());
  Tensor ties = expand_reduced(c, reduce_sum(is_max, axes, attrs.keepdims));
  return {expand_reduced(c, c.grad) * is_max / ties};
}

Grads grad_Reshape(const GradContext& c) { return {reshape(c.grad, c.in[0].shape().sym_vec())}; }
Grads grad_Transpose(const GradContext& c) {
  const IntList& perm = c.attrs.as<TransposeAttrs>().perm;
  std::vector<int64_t> inverse(static_cast<size_t>(perm.size()));
  for (int i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = i;
  return {transpose(c.grad, inverse)};
}
Grads grad_BroadcastTo(const GradContext& c) { return {sum_to_shape(c.grad, c.in[0].shape())}; }

Grads grad_Concat(const GradContext& c) {
  const int ax = normalize_axis(c.attrs.as<ConcatAttrs>().axis, c.out.rank(), "concat");
  Grads grads;
  int64_t start = 0;
  for (size_t k = 0; k < c.in.size(); ++k) {
    const Shape& s = c.in[k].shape();
    if (c.needs_grad(k)) {
      std::vector<int64_t> begin(static_cast<size_t>(s.rank()), 0), size = s.sym_vec();
      begin[static_cast<size_t>(ax)] = start;
      grads.push_back(slice(c.grad, begin, size));
    } else {
      grads.emplace_back();
    }
    start += s[ax];
  }
  return grads;
}

// The slice's gradient placed back into zeros, padding one dimension at a time with concat.
Grads grad_Slice(const GradContext& c) {
  const Shape& full = c.in[0].shape();
  Tensor g = c.grad;
  for (int d = 0; d < full.rank(); ++d) {
    const int64_t before = c.attrs.as<SliceAttrs>().begin[d];
    if (before == 0 && full.sym(d) == g.shape().sym(d)) continue;  // kept whole, for every size
    const int64_t after = full[d] - before - g.shape()[d];
    if (before == 0 && after == 0) continue;
    std::vector<Tensor> parts;
    Shape pad = g.shape();
    if (before > 0) { pad[d] = before; parts.push_back(zeros(pad, g.dtype())); }
    parts.push_back(g);
    if (after > 0) { pad[d] = after; parts.push_back(zeros(pad, g.dtype())); }
    g = concat(parts, d);
  }
  return {g};
}

Grads grad_Gather(const GradContext& c) {
  return {unsorted_segment_sum(c.grad, c.in[1], c.in[0].dim(0)), Tensor()};
}
Grads grad_UnsortedSegmentSum(const GradContext& c) { return {gather(c.grad, c.in[1]), Tensor()}; }

}  // namespace kiln
