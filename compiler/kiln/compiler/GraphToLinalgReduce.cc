// GraphToLinalgReduce: the ops with a reduction loop: reduce_sum/mean/max, argmax, the softmax
// family and matmul. Accumulation types and summation orders follow kernels/cpu/reduce.cc and
// softmax.cc, so compiled results match eager to the last bit where the kernels use plain loops:
// float32 sums accumulate in float64 (as eager's Acc<T>), the softmax family sums in T, row by row
// in index order, and every reduction loop runs its reduced dims in increasing order. The one
// exception is the softmax family's row sum of exp, made in the same pass as the row max (Note
// [Online softmax statistics]): it differs from eager's in rounding.
#include <functional>
#include <limits>

#include "kiln/compiler/GraphToLinalg.h"

namespace kiln::compiler {
namespace {

using Values = std::vector<std::string>;

std::string dim(int d) { return "d" + std::to_string(d); }

// Axes to reduce (ReduceAttrs::axes, empty = all), normalized.
std::vector<bool> reduced_axes(const IntList& axes, int rank) {
  std::vector<bool> r(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) r[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  return r;
}

// The output map of a reduction over `red` (reduced dims dropped, or 0 with keepdims).
std::string reduced_map(const std::vector<bool>& red, bool keepdims) {
  std::vector<std::string> e;
  for (size_t d = 0; d < red.size(); ++d) {
    if (!red[d]) e.push_back(dim(static_cast<int>(d)));
    else if (keepdims) e.push_back("0");
  }
  return affine_map(static_cast<int>(red.size()), e);
}

// Reduces `x` (shape xs) over `red` into a fresh (acc, out_shape) tensor initialised with `init`;
// `step(b, x_elem, acc)` gives the new accumulator. `extra` inputs come after x.
std::string reduce(LinalgEmitter& e, const std::string& x, DType xt, const Shape& xs, const std::vector<bool>& red,
                   bool keepdims, DType acc, const Shape& out_shape, const std::string& init,
                   const std::vector<GenericOperand>& extra,
                   const std::function<std::string(Body&, const Values& in, const std::string& acc)>& step) {
  std::vector<GenericOperand> ins{{x, tensor_type(xt, xs), identity_map(xs.rank())}};
  ins.insert(ins.end(), extra.begin(), extra.end());
  const std::string out = e.filled(acc, out_shape, init);
  return e.generic(xs.rank(), red, ins, {{out, tensor_type(acc, out_shape), reduced_map(red, keepdims)}},
                   [&](Body& b) -> Values {
                     Values in;
                     for (size_t i = 0; i < ins.size(); ++i) in.push_back(b.arg(i));
                     return {step(b, in, b.arg(ins.size()))};
                   })[0];
}

std::string lowest(DType t) {
  switch (t) {
    case DType::Float32: return literal_f32(std::numeric_limits<float>::lowest());
    case DType::Float64: return literal_f64(std::numeric_limits<double>::lowest());
    case DType::Int32: return std::to_string(std::numeric_limits<int32_t>::min());
    case DType::Int64: return std::to_string(std::numeric_limits<int64_t>::min());
    case DType::Bool: return "0";
  }
  return "?";
}

std::vector<std::string> sum_or_mean(LinalgEmitter& e, const LowerContext& c, bool mean) {
  const Operand& x = c.in[0];
  const DType t = x.dtype;
  const ReduceAttrs& attrs = c.node.attrs.as<ReduceAttrs>();
  const std::vector<bool> red = reduced_axes(attrs.axes, x.shape.rank());
  const DType acc = is_floating(t) ? DType::Float64 : t;
  // The number of elements each result element combines: a dim, symbolic when it is built
  // from -1 dims (symbols stand for sizes >= 1, Note [Symbolic dims]).
  const int64_t out_n = c.out_shape.sym_num_elements();
  const int64_t count = out_n == 0 ? 0 : dim_div(x.shape.sym_num_elements(), out_n).value();
  if (mean && !is_floating(t))
    KILN_CHECK(count != 0, "reduce_mean: mean of an empty integer tensor ", x.shape.str());
  std::string s = reduce(e, e.tensor(x), t, x.shape, red, attrs.keepdims, acc, c.out_shape, literal(0, acc), {},
                         [&](Body& b, const Values& in, const std::string& a) { return b.add(a, b.cast(in[0], t, acc), acc); });
  if (!is_floating(t) && !mean) return {s};
  // Eager: static_cast<T>(acc * scale) with scale 1 (sum) or 1/count in double (mean); integer
  // means divide the integer sum by the count (truncating).
  Operand so{s, acc, c.out_shape, ""};
  // Note [Dynamic dims]: a count built from -1 dims is read at run time.
  const bool symbolic = is_symbolic_dim(count);
  return {e.elementwise(t, c.out_shape, {so}, [&](Body& b, const Values& v) {
    if (!is_floating(t))
      return b.div(v[0], symbolic ? e.count_value(count, t, false) : b.constant(std::to_string(count), t), t);
    std::string r = v[0];
    if (mean && symbolic)
      r = b.mul(r, e.count_value(count, DType::Float64, true), DType::Float64);
    else if (mean)
      r = b.mul(r, b.constant(literal_f64(count == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / static_cast<double>(count)),
                              DType::Float64), DType::Float64);
    return b.cast(r, DType::Float64, t);
  })};
}

// ---- The softmax family: rows of the last axis ----

std::vector<bool> last_axis(int rank) {
  std::vector<bool> r(static_cast<size_t>(rank), false);
  r.back() = true;
  return r;
}

Shape without_last(const Shape& s) {
  std::vector<int64_t> dims = s.sym_vec();
  dims.pop_back();
  return Shape::of_dims(dims);
}

// Note [Online softmax statistics]
// The softmax family needs each row's max m and sum_j exp(x_j - m). Eager makes two passes
// (kernels/cpu/softmax.cc); compiled code makes one, rescaling the running sum whenever the max
// grows (the "online softmax" of Milakov and Gimelshein, 2018), with one exp per element:
//   grows = m < x;  m' = grows ? x : m;  d = (grows ? m : x) - m'  (<= 0);  e = exp(d)
//   s' = grows ? s * e + (1 + (x - m')) : s + e
// m is eager's max bit for bit (m < x ? x : m from -inf: same result, NaNs included, as
// softmax.cc's log_sum_exp); s differs from eager's sum in rounding only (a few ulps). Where
// eager's row is NaN it is NaN here too: a NaN x makes d NaN; an x of +inf makes x - m' NaN
// (eager's exp(inf - inf)), which is why the new element's exp(x - m') = 1 is written
// 1 + (x - m'). d is -inf rather than NaN where the smaller of x and m is -inf, so a row
// starting with -inf (a mask) still sums from zero. One loop nest instead of two is what lets
// a softmax cross-entropy with its gradient fuse into three (Note [Kiln fusion] in
// passes/FuseSiblingsAndEpilogues.cc).

// The rows' max and sum of exp updated by one element `x` (Note [Online softmax statistics]):
// {m', s', d, grows}.
struct OnlineStep {
  std::string max, sum_exp, gap, grows;
};
OnlineStep online_softmax_step(Body& b, const std::string& x, const std::string& m, const std::string& s, DType t) {
  const std::string ty = elem_type(t);
  const std::string neg_inf = b.constant(literal(-std::numeric_limits<double>::infinity(), t), t);
  const std::string grows = b.less(m, x, t);
  const std::string m2 = b.select(grows, x, m, t), smaller = b.select(grows, m, x, t);
  const std::string masked = b.op("arith.cmpf oeq, " + smaller + ", " + neg_inf + " : " + ty);
  const std::string d = b.select(masked, neg_inf, b.sub(smaller, m2, t), t);
  const std::string ex = b.op("math.exp " + d + " : " + ty);
  const std::string own = b.add(b.constant(literal(1, t), t), b.sub(x, m2, t), t);
  return {m2, b.select(grows, b.add(b.mul(s, ex, t), own, t), b.add(s, ex, t), t), d, grows};
}

// A row vector (one value per row of xs) read by an iteration space of shape xs.
GenericOperand row_operand(const std::string& v, DType t, const Shape& xs) {
  std::vector<std::string> ex;
  for (int d = 0; d + 1 < xs.rank(); ++d) ex.push_back(dim(d));
  return {v, tensor_type(t, without_last(xs)), affine_map(xs.rank(), ex)};
}

// The initial row max (-inf) and a zero-filled row accumulator.
std::string rows_filled(LinalgEmitter& e, DType t, const Shape& xs, double value) {
  return e.filled(t, without_last(xs), literal(value, t));
}

// The row max and row sum of exp of `x` in one loop nest, or those already computed for it.
LinalgEmitter::RowStats row_stats(LinalgEmitter& e, const std::string& x, DType t, const Shape& xs) {
  auto known = e.softmax_row_stats.find(x);
  if (known != e.softmax_row_stats.end()) return known->second;
  const double inf = std::numeric_limits<double>::infinity();
  const GenericOperand out = row_operand("", t, xs);
  std::vector<std::string> r = e.generic(
      xs.rank(), last_axis(xs.rank()), {{x, tensor_type(t, xs), identity_map(xs.rank())}},
      {{rows_filled(e, t, xs, -inf), out.type, out.map}, {rows_filled(e, t, xs, 0), out.type, out.map}}, [&](Body& b) -> Values {
        OnlineStep step = online_softmax_step(b, b.arg(0), b.arg(1), b.arg(2), t);
        return {step.max, step.sum_exp};
      });
  return e.softmax_row_stats[x] = {r[0], r[1]};
}

std::string log_of(Body& b, const std::string& x, DType t) { return b.op("math.log " + x + " : " + elem_type(t)); }

}  // namespace

std::vector<std::string> lower_ReduceSum(LinalgEmitter& e, const LowerContext& c) { return sum_or_mean(e, c, false); }
std::vector<std::string> lower_ReduceMean(LinalgEmitter& e, const LowerContext& c) { return sum_or_mean(e, c, true); }

std::vector<std::string> lower_ReduceMax(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  const DType t = x.dtype;
  // slot = x > slot || x != x ? x : slot, from lowest() (NaN propagates), as eager.
  const ReduceAttrs& attrs = c.node.attrs.as<ReduceAttrs>();
  return {reduce(e, e.tensor(x), t, x.shape, reduced_axes(attrs.axes, x.shape.rank()), attrs.keepdims, t, c.out_shape,
                 lowest(t), {}, [&](Body& b, const Values& in, const std::string& a) {
                   std::string take = b.greater(in[0], a, t);
                   if (is_floating(t))
                     take = b.op("arith.ori " + take + ", " + b.op("arith.cmpf uno, " + in[0] + ", " + in[0] + " : " + elem_type(t)) + " : i1");
                   return b.select(take, in[0], a, t);
                 })};
}

std::vector<std::string> lower_ArgMax(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  const DType t = x.dtype, it = c.out_dtype;
  const int r = x.shape.rank();
  const int64_t axis = c.node.attrs.as<ArgMaxAttrs>().axis;
  const int ax = static_cast<int>(axis < 0 ? axis + r : axis);
  std::vector<bool> red(static_cast<size_t>(r), false);
  red[static_cast<size_t>(ax)] = true;
  const std::string map = reduced_map(red, false);
  const std::string v0 = e.filled(t, c.out_shape, literal(0, t)), i0 = e.filled(it, c.out_shape, "0");
  // The first element of the axis is taken unconditionally, later ones when strictly greater:
  // eager's `best = 0; if (x[j] > x[best]) best = j`.
  return {e.generic(r, red, {{e.tensor(x), tensor_type(t, x.shape), identity_map(r)}},
                    {{v0, tensor_type(t, c.out_shape), map}, {i0, tensor_type(it, c.out_shape), map}},
                    [&](Body& b) -> Values {
                      std::string j = b.index(ax);
                      std::string first = b.op("arith.cmpi eq, " + j + ", " + b.op("arith.constant 0 : index") + " : index");
                      std::string take = b.op("arith.ori " + first + ", " + b.greater(b.arg(0), b.arg(1), t) + " : i1");
                      std::string jt = b.op("arith.index_cast " + j + " : index to " + elem_type(it));
                      return {b.select(take, b.arg(0), b.arg(1), t), b.select(take, jt, b.arg(2), it)};
                    })[1]};
}

namespace {
// One elementwise nest over x that reads each row's max m and sum of exp(x - m) s:
// value(b, x, m, s) per element.
std::vector<std::string> elementwise_with_row_stats(
    LinalgEmitter& e, const Operand& x,
    const std::function<std::string(Body&, const std::string&, const std::string&, const std::string&)>& value) {
  const DType t = x.dtype;
  const Shape& xs = x.shape;
  const std::string xv = e.tensor(x);
  const auto [m, s] = row_stats(e, xv, t, xs);
  return e.generic(xs.rank(), {}, {{xv, tensor_type(t, xs), identity_map(xs.rank())}, row_operand(m, t, xs), row_operand(s, t, xs)},
                   {{e.empty(t, xs), tensor_type(t, xs), identity_map(xs.rank())}},
                   [&](Body& b) -> Values { return {value(b, b.arg(0), b.arg(1), b.arg(2))}; });
}
}  // namespace

// exp is recomputed rather than stored: two loop nests, the second one elementwise.
std::vector<std::string> lower_Softmax(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.in[0].dtype;
  return elementwise_with_row_stats(e, c.in[0], [t](Body& b, const std::string& x, const std::string& m, const std::string& s) {
    return b.div(b.op("math.exp " + b.sub(x, m, t) + " : " + elem_type(t)), s, t);
  });
}

std::vector<std::string> lower_LogSoftmax(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.in[0].dtype;
  return elementwise_with_row_stats(e, c.in[0], [t](Body& b, const std::string& x, const std::string& m, const std::string& s) {
    return b.sub(x, b.add(log_of(b, s, t), m, t), t);
  });
}

// Eager: loss_i = -sum_j y_ij * (x_ij - lse_i), lse_i = log(s_i) + m_i, after two passes for
// m and s. Here the row statistics and the label sums come from one loop nest (Note [Online
// softmax statistics]), with t_i = sum_j y_ij * (x_ij - m_i) kept relative to the running max
// (rescaled by Y * (m - m') when it grows), and then
//   loss_i = Y_i * (lse_i - m_i) - t_i,   Y_i = sum_j y_ij.
// lse_i is rounded as eager's, and lse_i - m_i is exact (Sterbenz) for the large logits where
// that rounding matters, so eager's rounding of lse carries over; with labels >= 0 both terms
// are >= 0, no cancellation. The row statistics are registered for a softmax of the same
// logits (the gradient's) to reuse.
std::vector<std::string> lower_SoftmaxCrossEntropy(LinalgEmitter& e, const LowerContext& c) {
  const Operand &y = c.in[0], &x = c.in[1];
  const DType t = x.dtype;
  const Shape& xs = x.shape;
  if (xs.sym(1) == 0) return {e.filled(t, c.out_shape, literal(0, t))};  // eager: lse 0, no terms
  const std::string xv = e.tensor(x), yv = e.tensor(y), xt = tensor_type(t, xs);
  const GenericOperand row = row_operand("", t, xs);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<GenericOperand> outs;
  for (double init : {-inf, 0.0, 0.0, 0.0}) outs.push_back({rows_filled(e, t, xs, init), row.type, row.map});
  std::vector<std::string> r = e.generic(2, last_axis(2), {{xv, xt, identity_map(2)}, {yv, xt, identity_map(2)}}, outs,
                                         [&](Body& b) -> Values {
                                           const std::string yj = b.arg(1), tsum = b.arg(4), ysum = b.arg(5);
                                           OnlineStep step = online_softmax_step(b, b.arg(0), b.arg(2), b.arg(3), t);
                                           // Y * (m - m') rescales t; 0 while no label was seen
                                           // (the first gap is -inf).
                                           const std::string zero = b.constant(literal(0, t), t);
                                           const std::string none = b.op("arith.cmpf oeq, " + ysum + ", " + zero + " : " + elem_type(t));
                                           const std::string rescale = b.select(none, zero, b.mul(ysum, step.gap, t), t);
                                           const std::string term = b.select(step.grows, rescale, b.mul(yj, step.gap, t), t);
                                           return {step.max, step.sum_exp, b.add(tsum, term, t), b.add(ysum, yj, t)};
                                         });
  e.softmax_row_stats[xv] = {r[0], r[1]};
  const Shape n = without_last(xs);
  const GenericOperand id{"", tensor_type(t, n), identity_map(1)};
  return e.generic(1, {}, {{r[0], id.type, id.map}, {r[1], id.type, id.map}, {r[2], id.type, id.map}, {r[3], id.type, id.map}},
                   {{e.empty(t, n), id.type, id.map}}, [&](Body& b) -> Values {
                     const std::string m = b.arg(0), lse = b.add(log_of(b, b.arg(1), t), m, t);
                     return {b.sub(b.mul(b.arg(3), b.sub(lse, m, t), t), b.arg(2), t)};
                   });
}

std::vector<std::string> lower_SparseSoftmaxCrossEntropy(LinalgEmitter& e, const LowerContext& c) {
  const Operand &labels = c.in[0], &x = c.in[1];
  const DType t = x.dtype;
  const int64_t classes = x.shape.sym(1);
  e.check(RuntimeCheck::LabelRange, labels, classes);
  const std::string xv = e.tensor(x);
  const auto [m, s] = row_stats(e, xv, t, x.shape);
  const Shape n = Shape::of_dims({x.shape.sym(0)});
  const std::string xt = tensor_type(t, x.shape);
  return e.generic(1, {}, {{e.tensor(labels), tensor_type(labels.dtype, n), identity_map(1)}, {m, tensor_type(t, n), identity_map(1)},
                           {s, tensor_type(t, n), identity_map(1)}},
                   {{e.empty(t, n), tensor_type(t, n), identity_map(1)}}, [&](Body& b) -> Values {
                     // An out-of-range label (reported after the call) reads a clamped column.
                     std::string l = b.cast(b.arg(0), labels.dtype, DType::Int64);
                     l = b.select(b.less(l, b.constant("0", DType::Int64), DType::Int64), b.constant("0", DType::Int64), l, DType::Int64);
                     std::string hi = b.constant(std::to_string(classes - 1), DType::Int64);
                     l = b.select(b.greater(l, hi, DType::Int64), hi, l, DType::Int64);
                     std::string picked = b.op("tensor.extract " + xv + "[" + b.index(0) + ", " + b.to_index(l, DType::Int64) + "] : " + xt);
                     std::string lse = b.add(log_of(b, b.arg(2), t), b.arg(1), t);
                     return {b.sub(lse, picked, t)};
                   });
}

// Matmuls become named linalg contractions, which ContractionsToCalls.cc turns into GEMM calls
// after bufferization (Note [Contractions in compiled code]; integer ones Note [Integer GEMM]):
// rank 2 as linalg.matmul (_transpose_a / _transpose_b), batched ones as linalg.batch_matmul
// (_transpose_a / _transpose_b) over the batch dims collapsed into one; with both operands
// transposed, a is transposed first (a copy of it: op(a) op(b) = a^T b^T).
std::vector<std::string> lower_MatMul(LinalgEmitter& e, const LowerContext& c) {
  const Operand &a = c.in[0], &bm = c.in[1];
  const DType t = c.out_dtype;
  const MatMulAttrs& attrs = c.node.attrs.as<MatMulAttrs>();
  const bool ta = attrs.transpose_a, tb = attrs.transpose_b;
  const int r = a.shape.rank();
  const std::string av = e.tensor(a), bv = e.tensor(bm);
  const std::string ct = tensor_type(t, c.out_shape);
  // Views [batch, rows, cols] of the operands (the batch dims collapsed; none at rank 2).
  auto batched = [&](const Shape& s) {
    std::vector<int64_t> dims{1};
    for (int d = 0; d < r - 2; ++d) dims[0] = dim_mul(dims[0], s.sym(d));
    dims.push_back(s.sym(r - 2));
    dims.push_back(s.sym(r - 1));
    return Shape::of_dims(dims);
  };
  std::string groups = "[[";  // the reassociation of those views, for rank > 3
  for (int d = 0; d < r - 2; ++d) groups += (d ? ", " : "") + std::to_string(d);
  groups += "], [" + std::to_string(r - 2) + "], [" + std::to_string(r - 1) + "]]";
  auto collapse = [&](const std::string& v, const Shape& s) {
    if (r == 3) return v;
    return e.op("tensor.collapse_shape " + v + " " + groups + " : " + tensor_type(t, s) + " into " +
                tensor_type(t, batched(s)));
  };
  const bool batch = r > 2;
  Shape as = batch ? batched(a.shape) : a.shape;
  std::string a3 = batch ? collapse(av, a.shape) : av;
  bool transpose_a = ta;
  if (ta && tb) {  // a^T materialized: then the product is a^T (b^T)
    const int n = as.rank();
    Shape swapped = as;
    swapped[n - 2] = as.sym(n - 1);
    swapped[n - 1] = as.sym(n - 2);
    std::vector<std::string> ex;
    for (int d = 0; d < n - 2; ++d) ex.push_back(dim(d));
    ex.push_back(dim(n - 1));
    ex.push_back(dim(n - 2));
    a3 = e.generic(n, {}, {{a3, tensor_type(t, as), affine_map(n, ex)}},
                   {{e.empty(t, swapped), tensor_type(t, swapped), identity_map(n)}},
                   [](Body& body) -> Values { return {body.arg(0)}; })[0];
    as = swapped;
    transpose_a = false;
  }
  const Shape bs = batch ? batched(bm.shape) : bm.shape, cs = batch ? batched(c.out_shape) : c.out_shape;
  const std::string b3 = batch ? collapse(bv, bm.shape) : bv;
  const std::string acc = e.filled(t, cs, literal(0, t));
  const std::string name = std::string(batch ? "linalg.batch_matmul" : "linalg.matmul") +
                           (transpose_a ? "_transpose_a" : tb ? "_transpose_b" : "");
  const std::string product = e.op(name + " ins(" + a3 + ", " + b3 + " : " + tensor_type(t, as) + ", " +
                                   tensor_type(t, bs) + ") outs(" + acc + " : " + tensor_type(t, cs) + ") -> " +
                                   tensor_type(t, cs));
  if (!batch || r == 3) return {product};
  int batch_symbols = 0;  // Note [Two dynamic dims in one expansion] (GraphToLinalgStructural.cc)
  for (int d = 0; d < r - 2; ++d) batch_symbols += is_symbolic_dim(c.out_shape.sym(d));
  if (batch_symbols > 1) {
    std::string sizes;
    for (int d = 0; d < r; ++d) sizes += (d ? ", " : "") + e.dim_value(c.out_shape.sym(d));
    const std::string shape_type = "tensor<" + std::to_string(r) + "xindex>";
    const std::string shape = e.op("tensor.from_elements " + sizes + " : " + shape_type);
    return {e.op("tensor.reshape " + product + "(" + shape + ") : (" + tensor_type(t, cs) + ", " + shape_type + ") -> " + ct)};
  }
  return {e.op("tensor.expand_shape " + product + " " + groups + " output_shape " + e.sizes_list(c.out_shape) +
               " : " + tensor_type(t, cs) + " into " + ct)};
}

}  // namespace kiln::compiler
