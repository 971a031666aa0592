// GraphToLinalgStructural: data movement (reshape, transpose, broadcast_to, concat, slice,
// gather, unsorted_segment_sum, one_hot), fill, and the in-place variable updates (assign family,
// apply_adam), whose lowerings return the variables' new values (GraphToLinalg.cc writes them).
// With -1 dims (Note [Dynamic dims]) sizes come from sizes_list/dim_value; offsets along a
// concatenated or sliced axis and the index checks' limits are literals, so dynamic_gap keeps
// -1 dims out of those positions (GraphToLinalgDynamic.cc, positional_gap).
#include "kiln/compiler/GraphToLinalg.h"

namespace kiln::compiler {
namespace {

using Values = std::vector<std::string>;

std::string dim(int d) { return "d" + std::to_string(d); }

std::string ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// [[0, 1, ..., rank-1]]: every dim into one.
std::string all_into_one(int rank) {
  std::string s = "[[";
  for (int d = 0; d < rank; ++d) s += (d ? ", " : "") + std::to_string(d);
  return s + "]]";
}

// x (shape s) viewed as rank 1: collapse_shape, or expand_shape for a scalar.
std::string flatten(LinalgEmitter& e, const std::string& x, DType t, const Shape& s) {
  const Shape flat = Shape::of_dims({s.sym_num_elements()});
  if (s.rank() == 1) return x;
  if (s.rank() == 0)
    return e.op("tensor.expand_shape " + x + " [] output_shape [1] : " + tensor_type(t, s) + " into " + tensor_type(t, flat));
  return e.op("tensor.collapse_shape " + x + " " + all_into_one(s.rank()) + " : " + tensor_type(t, s) + " into " + tensor_type(t, flat));
}

// A rank-1 x viewed as shape s. Note [Two dynamic dims in one expansion]: MLIR 19's bufferization
// of a tensor.expand_shape with more than one `?` in a group (a [s0*s1] gradient back to
// [s0,s1]) builds its memref.expand_shape without the output sizes and aborts the process; such
// a view is a tensor.reshape with the sizes as a shape tensor instead (a memref.reshape).
std::string unflatten(LinalgEmitter& e, const std::string& x, DType t, const Shape& s) {
  const Shape flat = Shape::of_dims({s.sym_num_elements()});
  if (s.rank() == 1) return x;
  if (s.rank() == 0) return e.op("tensor.collapse_shape " + x + " [] : " + tensor_type(t, flat) + " into " + tensor_type(t, s));
  int symbolic = 0;
  for (int d = 0; d < s.rank(); ++d) symbolic += is_symbolic_dim(s.sym(d));
  if (symbolic > 1) {
    std::string sizes;
    for (int d = 0; d < s.rank(); ++d) sizes += (d ? ", " : "") + e.dim_value(s.sym(d));
    const std::string shape_type = "tensor<" + std::to_string(s.rank()) + "xindex>";
    const std::string shape = e.op("tensor.from_elements " + sizes + " : " + shape_type);
    return e.op("tensor.reshape " + x + "(" + shape + ") : (" + tensor_type(t, flat) + ", " + shape_type + ") -> " +
                tensor_type(t, s));
  }
  return e.op("tensor.expand_shape " + x + " " + all_into_one(s.rank()) + " output_shape " + e.sizes_list(s) + " : " +
              tensor_type(t, flat) + " into " + tensor_type(t, s));
}

// An index value clamped into [0, limit) (out-of-range ones are reported by a runtime check).
std::string clamped_index(Body& b, const std::string& x, DType t, int64_t limit) {
  std::string l = b.cast(x, t, DType::Int64);
  const std::string zero = b.constant("0", DType::Int64), hi = b.constant(std::to_string(limit - 1), DType::Int64);
  l = b.select(b.less(l, zero, DType::Int64), zero, l, DType::Int64);
  l = b.select(b.greater(l, hi, DType::Int64), hi, l, DType::Int64);
  return b.to_index(l, DType::Int64);
}

}  // namespace

std::vector<std::string> lower_Reshape(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  if (x.is_splat()) return {e.splat(x.dtype, x.value)};
  const std::string xv = e.tensor(x);
  if (x.shape.same_dims(c.out_shape)) return {xv};
  return {unflatten(e, flatten(e, xv, x.dtype, x.shape), x.dtype, c.out_shape)};
}

std::vector<std::string> lower_Transpose(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  if (x.is_splat()) return {e.splat(x.dtype, x.value)};
  const int r = x.shape.rank();
  const IntList& p = c.node.attrs.as<TransposeAttrs>().perm;
  std::vector<int64_t> perm(p.begin(), p.end());
  if (perm.empty())
    for (int d = r - 1; d >= 0; --d) perm.push_back(d);
  // out[i] = x[j] with j[perm[d]] = i[d].
  std::vector<std::string> ex(static_cast<size_t>(r));
  for (int d = 0; d < r; ++d) ex[static_cast<size_t>(perm[static_cast<size_t>(d)])] = dim(d);
  return e.generic(r, {}, {{e.tensor(x), tensor_type(x.dtype, x.shape), affine_map(r, ex)}},
                   {{e.empty(x.dtype, c.out_shape), tensor_type(x.dtype, c.out_shape), identity_map(r)}},
                   [](Body& b) -> Values { return {b.arg(0)}; });
}

std::vector<std::string> lower_BroadcastTo(LinalgEmitter& e, const LowerContext& c) {
  Operand x = c.in[0];
  if (x.is_splat()) return {e.splat(x.dtype, x.value)};
  x.ssa = e.tensor(x);  // read, not inlined: a generic needs at least its output
  return {e.elementwise(x.dtype, c.out_shape, {x}, [](Body&, const Values& v) { return v[0]; })};
}

std::vector<std::string> lower_Concat(LinalgEmitter& e, const LowerContext& c) {
  const int r = c.out_shape.rank();
  const int64_t axis = c.node.attrs.as<ConcatAttrs>().axis;
  const int ax = static_cast<int>(axis < 0 ? axis + r : axis);
  std::string acc = e.empty(c.out_dtype, c.out_shape);
  const std::string ot = tensor_type(c.out_dtype, c.out_shape);
  int64_t at = 0;
  for (const Operand& x : c.in) {
    std::vector<int64_t> offsets(static_cast<size_t>(r), 0), strides(static_cast<size_t>(r), 1);
    offsets[static_cast<size_t>(ax)] = at;
    acc = e.op("tensor.insert_slice " + e.tensor(x) + " into " + acc + ints(offsets) + " " + e.sizes_list(x.shape) + " " +
               ints(strides) + " : " + tensor_type(x.dtype, x.shape) + " into " + ot);
    at += x.shape.sym(ax);  // literal offsets: a concatenated -1 axis compiles per size (positional_gap)
  }
  return {acc};
}

std::vector<std::string> lower_Slice(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  if (x.is_splat()) return {e.splat(x.dtype, x.value)};
  const int r = x.shape.rank();
  const IntList& b = c.node.attrs.as<SliceAttrs>().begin;
  std::vector<int64_t> begin(b.begin(), b.end());
  std::vector<int64_t> strides(static_cast<size_t>(r), 1);
  return {e.op("tensor.extract_slice " + e.tensor(x) + ints(begin) + " " + e.sizes_list(c.out_shape) + " " + ints(strides) + " : " +
               tensor_type(x.dtype, x.shape) + " to " + tensor_type(c.out_dtype, c.out_shape))};
}

// out[i..., r...] = params[indices[i...], r...]
std::vector<std::string> lower_Gather(LinalgEmitter& e, const LowerContext& c) {
  const Operand &params = c.in[0], &indices = c.in[1];
  const int64_t rows = params.shape.sym(0);
  e.check(RuntimeCheck::IndexRange, indices, rows);
  const int q = indices.shape.rank(), r = c.out_shape.rank();
  std::vector<std::string> ex;
  for (int d = 0; d < q; ++d) ex.push_back(dim(d));
  const std::string pv = e.tensor(params), pt = tensor_type(params.dtype, params.shape);
  return e.generic(r, {}, {{e.tensor(indices), tensor_type(indices.dtype, indices.shape), affine_map(r, ex)}},
                   {{e.empty(c.out_dtype, c.out_shape), tensor_type(c.out_dtype, c.out_shape), identity_map(r)}},
                   [&](Body& b) -> Values {
                     std::string idx = "[" + clamped_index(b, b.arg(0), indices.dtype, rows);
                     for (int d = q; d < r; ++d) idx += ", " + b.index(d);
                     return {b.op("tensor.extract " + pv + idx + "] : " + pt)};
                   });
}

// Rows of data added into their segment's row, in data order (eager's loop), with scf.for on
// tensors: O(data) work, where a linalg form would need a loop over every segment.
std::vector<std::string> lower_UnsortedSegmentSum(LinalgEmitter& e, const LowerContext& c) {
  const Operand &data = c.in[0], &ids = c.in[1];
  const DType t = c.out_dtype;
  const int64_t segments = c.out_shape.sym(0);
  e.check(RuntimeCheck::IndexRange, ids, segments);
  const int64_t k = ids.shape.sym_num_elements();
  const int64_t row = segments == 0 ? 0 : dim_div(c.out_shape.sym_num_elements(), segments).value();
  const Shape data2 = Shape::of_dims({k, row}), out2 = Shape::of_dims({segments, row});
  const std::string d1 = flatten(e, e.tensor(data), t, data.shape);
  const std::string d2 = unflatten(e, d1, t, data2);
  const std::string ids1 = flatten(e, e.tensor(ids), ids.dtype, ids.shape);
  const std::string zero = e.filled(t, out2, literal(0, t));
  const std::string c0 = e.op("arith.constant 0 : index"), c1 = e.op("arith.constant 1 : index");
  const std::string ck = is_symbolic_dim(k)
                             ? e.dim_value(k)  // a -1 batch of ids (Note [Dynamic dims])
                             : e.op("arith.constant " + std::to_string(k) + " : index");
  const std::string cr = e.op("arith.constant " + std::to_string(row) + " : index");
  const std::string ot = tensor_type(t, out2), dt = tensor_type(t, data2), it = tensor_type(ids.dtype, Shape::of_dims({k}));
  const std::string i = e.tmp(), j = e.tmp(), acc = e.tmp(), acc2 = e.tmp();
  const std::string outer = e.tmp(), inner = e.tmp();
  e.line(outer + " = scf.for " + i + " = " + c0 + " to " + ck + " step " + c1 + " iter_args(" + acc + " = " + zero + ") -> (" + ot + ") {");
  const std::string id = e.op("tensor.extract " + ids1 + "[" + i + "] : " + it);
  std::string seg;
  {
    // Clamp (reported by the check) with plain arith, outside any linalg body.
    std::string l = ids.dtype == DType::Int64 ? id : e.op("arith.extsi " + id + " : i32 to i64");
    const std::string z = e.op("arith.constant 0 : i64"), hi = e.op("arith.constant " + std::to_string(segments - 1) + " : i64");
    l = e.op("arith.maxsi " + l + ", " + z + " : i64");
    l = e.op("arith.minsi " + l + ", " + hi + " : i64");
    seg = e.op("arith.index_cast " + l + " : i64 to index");
  }
  e.line(inner + " = scf.for " + j + " = " + c0 + " to " + cr + " step " + c1 + " iter_args(" + acc2 + " = " + acc + ") -> (" + ot + ") {");
  const std::string x = e.op("tensor.extract " + d2 + "[" + i + ", " + j + "] : " + dt);
  const std::string o = e.op("tensor.extract " + acc2 + "[" + seg + ", " + j + "] : " + ot);
  const std::string sum = e.op(std::string(is_floating(t) ? "arith.addf " : "arith.addi ") + o + ", " + x + " : " + elem_type(t));
  const std::string upd = e.op("tensor.insert " + sum + " into " + acc2 + "[" + seg + ", " + j + "] : " + ot);
  e.line("  scf.yield " + upd + " : " + ot);
  e.line("}");
  e.line("scf.yield " + inner + " : " + ot);
  e.line("}");
  return {unflatten(e, flatten(e, outer, t, out2), t, c.out_shape)};
}

std::vector<std::string> lower_OneHot(LinalgEmitter& e, const LowerContext& c) {
  const Operand& idx = c.in[0];
  const DType t = c.out_dtype;
  const int r = c.out_shape.rank();
  std::vector<std::string> ex;
  for (int d = 0; d + 1 < r; ++d) ex.push_back(dim(d));
  const OneHotAttrs& attrs = c.node.attrs.as<OneHotAttrs>();
  const std::string on = literal(attrs.on_value, t), off = literal(attrs.off_value, t);
  return e.generic(r, {}, {{e.tensor(idx), tensor_type(idx.dtype, idx.shape), affine_map(r, ex)}},
                   {{e.empty(t, c.out_shape), tensor_type(t, c.out_shape), identity_map(r)}}, [&](Body& b) -> Values {
                     std::string j = b.op("arith.index_cast " + b.index(r - 1) + " : index to i64");
                     std::string hit = b.op("arith.cmpi eq, " + b.cast(b.arg(0), idx.dtype, DType::Int64) + ", " + j + " : i64");
                     return {b.select(hit, b.constant(on, t), b.constant(off, t), t)};
                   });
}

std::vector<std::string> lower_Fill(LinalgEmitter& e, const LowerContext& c) {
  return {e.splat(c.out_dtype, c.node.attrs.as<FillAttrs>().value)};
}

std::vector<std::string> lower_Assign(LinalgEmitter& e, const LowerContext& c) { return {e.tensor(c.in[1])}; }

std::vector<std::string> lower_AssignAdd(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.out_dtype;
  return {e.elementwise(t, c.out_shape, {c.in[0], c.in[1]}, [&](Body& b, const Values& v) { return b.add(v[0], v[1], t); })};
}

std::vector<std::string> lower_AssignSub(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.out_dtype;
  return {e.elementwise(t, c.out_shape, {c.in[0], c.in[1]}, [&](Body& b, const Values& v) { return b.sub(v[0], v[1], t); })};
}

// kernels/cpu/training_ops.cc, operation for operation:
//   m += (g - m) * b1;  v += (g * g - v) * b2;  var -= lr * m / (sqrt(v) + eps)
// with b1 = T(1 - beta_1), b2 = T(1 - beta_2), eps = T(epsilon).
std::vector<std::string> lower_ApplyAdam(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.out_dtype;
  const Shape& s = c.out_shape;
  const AdamAttrs& a = c.node.attrs.as<AdamAttrs>();
  const std::string tt = tensor_type(t, s), id = identity_map(s.rank());
  std::vector<GenericOperand> ins;
  for (int k = 0; k < 4; ++k) ins.push_back({e.tensor(c.in[static_cast<size_t>(k)]), tt, id});
  const Operand& lr = c.in[4];
  if (!lr.ssa.empty()) ins.push_back({lr.ssa, tensor_type(t, lr.shape), affine_map(s.rank(), {})});
  std::vector<GenericOperand> outs;
  for (int k = 0; k < 3; ++k) outs.push_back({e.empty(t, s), tt, id});
  return e.generic(s.rank(), {}, ins, outs, [&](Body& b) -> Values {
    const std::string var = b.arg(0), m = b.arg(1), v = b.arg(2), g = b.arg(3);
    const std::string lrv = ins.size() == 5 ? b.arg(4) : b.constant(lr.scalar, t);
    const std::string b1 = b.constant(literal(1 - a.beta_1, t), t), b2 = b.constant(literal(1 - a.beta_2, t), t);
    const std::string eps = b.constant(literal(a.epsilon, t), t);
    std::string m2 = b.add(m, b.mul(b.sub(g, m, t), b1, t), t);
    std::string v2 = b.add(v, b.mul(b.sub(b.mul(g, g, t), v, t), b2, t), t);
    std::string den = b.add(b.op("math.sqrt " + v2 + " : " + elem_type(t)), eps, t);
    std::string var2 = b.sub(var, b.div(b.mul(lrv, m2, t), den, t), t);
    return {var2, m2, v2};
  });
}

}  // namespace kiln::compiler
