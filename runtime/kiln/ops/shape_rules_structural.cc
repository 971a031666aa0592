// Shape and dtype rules of contractions, reductions, shape ops, creation and variable updates.
#include <algorithm>

#include "kiln/core/op_def.h"

namespace kiln {

TensorMeta infer_MatMul(Inputs in, const OpAttrs& op_attrs) {
  const MatMulAttrs& attrs = op_attrs.as<MatMulAttrs>();
  const Tensor &a = in[0], &b = in[1];
  KILN_CHECK(a.dtype() == b.dtype(), "matmul: dtypes differ: a is ", dtype_name(a.dtype()), ", b is ",
             dtype_name(b.dtype()));
  KILN_CHECK(a.dtype() != DType::Bool, "matmul: bool operands are not supported");
  KILN_CHECK(a.rank() >= 2 && a.rank() == b.rank(), "matmul: operands must both be rank 2, or the same "
             "rank >= 3 (batched): a is ", a.shape().str(), ", b is ", b.shape().str());
  int r = a.rank();
  for (int i = 0; i < r - 2; ++i)
    KILN_CHECK(dims_equal(a.shape().sym(i), b.shape().sym(i), "matmul"), "matmul: batch dimensions differ: a is ",
               a.shape().str(), ", b is ", b.shape().str());
  const Shape &as = a.shape(), &bs = b.shape();
  const int64_t m = attrs.transpose_a ? as.sym(r - 1) : as.sym(r - 2), ka = attrs.transpose_a ? as.sym(r - 2) : as.sym(r - 1);
  const int64_t kb = attrs.transpose_b ? bs.sym(r - 1) : bs.sym(r - 2), n = attrs.transpose_b ? bs.sym(r - 2) : bs.sym(r - 1);
  KILN_CHECK(dims_equal(ka, kb, "matmul"), "matmul: inner dimensions differ: a is ", as.str(),
             attrs.transpose_a ? " (transposed)" : "", ", b is ", bs.str(), attrs.transpose_b ? " (transposed)" : "");
  Shape out;
  for (int i = 0; i < r - 2; ++i) out.push_back(as.sym(i));
  out.push_back(m);
  out.push_back(n);
  return {out, a.dtype()};
}

namespace {
Shape reduced_shape(const Shape& s, const IntList& axes, bool keepdims, const char* op) {
  bool reduce[kMaxRank] = {};
  if (axes.empty()) std::fill(reduce, reduce + s.rank(), true);
  for (int64_t a : axes) {
    int ax = normalize_axis(a, s.rank(), op);
    KILN_CHECK(!reduce[ax] || axes.empty(), op, ": axis ", a, " given twice");
    reduce[ax] = true;
  }
  Shape out;
  for (int i = 0; i < s.rank(); ++i) {
    if (!reduce[i]) out.push_back(s.sym(i));
    else if (keepdims) out.push_back(1);
  }
  return out;
}

TensorMeta reduction(Inputs in, const OpAttrs& attrs, const char* op) {
  KILN_CHECK(in[0].dtype() != DType::Bool, op, ": bool input is not supported; cast it first");
  const ReduceAttrs& a = attrs.as<ReduceAttrs>();
  return {reduced_shape(in[0].shape(), a.axes, a.keepdims, op), in[0].dtype()};
}
}  // namespace

TensorMeta infer_ReduceSum(Inputs in, const OpAttrs& attrs) { return reduction(in, attrs, "reduce_sum"); }
TensorMeta infer_ReduceMean(Inputs in, const OpAttrs& attrs) { return reduction(in, attrs, "reduce_mean"); }
TensorMeta infer_ReduceMax(Inputs in, const OpAttrs& attrs) {
  TensorMeta m = reduction(in, attrs, "reduce_max");
  // Symbols stand for sizes >= 1 (Note [Symbolic dims]): only the other dims can be 0.
  const Shape& s = in[0].shape();
  bool empty = false;
  for (int i = 0; i < s.rank(); ++i) empty = empty || s.sym(i) == 0;
  KILN_CHECK(!empty, "reduce_max: empty input ", s.str());
  return m;
}

TensorMeta infer_ArgMax(Inputs in, const OpAttrs& op_attrs) {
  const ArgMaxAttrs& attrs = op_attrs.as<ArgMaxAttrs>();
  const Tensor& x = in[0];
  KILN_CHECK(x.dtype() != DType::Bool, "argmax: bool input is not supported");
  int ax = normalize_axis(attrs.axis, x.rank(), "argmax");
  KILN_CHECK(x.shape().sym(ax) != 0, "argmax: axis ", attrs.axis, " of ", x.shape().str(), " is empty");
  KILN_CHECK(is_integer(attrs.dtype), "argmax: output_type must be int32 or int64, got ", dtype_name(attrs.dtype));
  Shape out;
  for (int i = 0; i < x.rank(); ++i)
    if (i != ax) out.push_back(x.shape().sym(i));
  return {out, attrs.dtype};
}

TensorMeta infer_Reshape(Inputs in, const OpAttrs& op_attrs) {
  const ShapeAttrs& attrs = op_attrs.as<ShapeAttrs>();
  KILN_CHECK(dims_equal(attrs.shape.sym_num_elements(), in[0].shape().sym_num_elements(), "reshape"),
             "reshape: cannot reshape ",
             in[0].shape().str(), " (", in[0].num_elements(), " elements) to ", attrs.shape.str());
  return {attrs.shape, in[0].dtype()};
}

TensorMeta infer_Transpose(Inputs in, const OpAttrs& op_attrs) {
  const TransposeAttrs& attrs = op_attrs.as<TransposeAttrs>();
  const Shape& s = in[0].shape();
  KILN_CHECK(attrs.perm.size() == s.rank(), "transpose: perm has ", attrs.perm.size(),
             " entries for a rank-", s.rank(), " input ", s.str());
  bool seen[kMaxRank] = {};
  Shape out;
  for (int64_t p : attrs.perm) {
    KILN_CHECK(p >= 0 && p < s.rank() && !seen[p], "transpose: perm is not a permutation of 0..",
               s.rank() - 1, " (bad entry ", p, ")");
    seen[p] = true;
    out.push_back(s.sym(static_cast<int>(p)));
  }
  return {out, in[0].dtype()};
}

TensorMeta infer_BroadcastTo(Inputs in, const OpAttrs& op_attrs) {
  const ShapeAttrs& attrs = op_attrs.as<ShapeAttrs>();
  Shape b = broadcast_shapes(in[0].shape(), attrs.shape, "broadcast_to");
  KILN_CHECK(b.same_dims(attrs.shape) || b == attrs.shape, "broadcast_to: ", in[0].shape().str(), " cannot be broadcast to ",
             attrs.shape.str());
  return {attrs.shape, in[0].dtype()};
}

TensorMeta infer_Concat(Inputs in, const OpAttrs& op_attrs) {
  const ConcatAttrs& attrs = op_attrs.as<ConcatAttrs>();
  KILN_CHECK(!in.empty(), "concat: needs at least one tensor");
  const Tensor& first = in[0];
  int ax = normalize_axis(attrs.axis, first.rank(), "concat");
  Shape out = first.shape();
  for (size_t k = 1; k < in.size(); ++k) {
    const Tensor& t = in[k];
    KILN_CHECK(t.dtype() == first.dtype(), "concat: tensor ", k, " is ", dtype_name(t.dtype()),
               ", tensor 0 is ", dtype_name(first.dtype()));
    bool ok = t.rank() == first.rank();
    for (int i = 0; ok && i < t.rank(); ++i) ok = i == ax || dims_equal(t.shape().sym(i), first.shape().sym(i), "concat");
    KILN_CHECK(ok, "concat: tensor ", k, " has shape ", t.shape().str(), ", tensor 0 has ",
               first.shape().str(), " (they may differ only in axis ", ax, ")");
    const int64_t a = out.sym(ax), b = t.shape().sym(ax);
    out[ax] = is_symbolic_dim(a) || is_symbolic_dim(b) ? dim_value(a, "concat") + dim_value(b, "concat") : a + b;
  }
  return {out, first.dtype()};
}

TensorMeta infer_Slice(Inputs in, const OpAttrs& op_attrs) {
  const SliceAttrs& attrs = op_attrs.as<SliceAttrs>();
  const Shape& s = in[0].shape();
  KILN_CHECK(attrs.begin.size() == s.rank() && attrs.size.rank() == s.rank(), "slice: begin and size need ",
             s.rank(), " entries for ", s.str());
  for (int i = 0; i < s.rank(); ++i) {
    if (attrs.begin[i] == 0 && attrs.size.sym(i) == s.sym(i)) continue;  // all of the dim, for every size
    KILN_CHECK(attrs.begin[i] >= 0 && attrs.size[i] >= 0 && attrs.begin[i] + attrs.size[i] <= s[i], "slice: dimension ", i,
               " range [", attrs.begin[i], ", ", attrs.begin[i] + attrs.size[i], ") is outside [0, ", s[i],
               ") of ", s.str());
  }
  return {attrs.size, in[0].dtype()};
}

TensorMeta infer_Gather(Inputs in, const OpAttrs&) {
  const Tensor &params = in[0], &indices = in[1];
  KILN_CHECK(params.rank() >= 1, "gather: params must have rank >= 1, got a scalar");
  KILN_CHECK(is_integer(indices.dtype()), "gather: indices must be int32 or int64, got ",
             dtype_name(indices.dtype()));
  Shape out = indices.shape();
  for (int i = 1; i < params.rank(); ++i) out.push_back(params.shape().sym(i));
  return {out, params.dtype()};
}

TensorMeta infer_UnsortedSegmentSum(Inputs in, const OpAttrs& op_attrs) {
  const ShapeAttrs& attrs = op_attrs.as<ShapeAttrs>();
  const Tensor &data = in[0], &ids = in[1];
  KILN_CHECK(is_integer(ids.dtype()), "unsorted_segment_sum: segment_ids must be int32 or int64, got ",
             dtype_name(ids.dtype()));
  bool prefix = data.rank() >= ids.rank();
  for (int i = 0; prefix && i < ids.rank(); ++i) prefix = dims_equal(ids.shape().sym(i), data.shape().sym(i));
  KILN_CHECK(prefix,
             "unsorted_segment_sum: segment_ids ", ids.shape().str(), " must be a prefix of data ",
             data.shape().str());
  KILN_CHECK(data.dtype() != DType::Bool, "unsorted_segment_sum: bool data is not supported");
  Shape out;
  out.push_back(attrs.shape.sym(0));
  for (int i = ids.rank(); i < data.rank(); ++i) out.push_back(data.shape().sym(i));
  return {out, data.dtype()};
}

TensorMeta infer_OneHot(Inputs in, const OpAttrs& op_attrs) {
  const OneHotAttrs& attrs = op_attrs.as<OneHotAttrs>();
  KILN_CHECK(is_integer(in[0].dtype()), "one_hot: indices must be int32 or int64, got ",
             dtype_name(in[0].dtype()));
  KILN_CHECK(attrs.depth > 0, "one_hot: depth must be positive, got ", attrs.depth);
  Shape out = in[0].shape();
  out.push_back(attrs.depth);
  return {out, attrs.dtype};
}

TensorMeta infer_Fill(Inputs, const OpAttrs& attrs) {
  const FillAttrs& a = attrs.as<FillAttrs>();
  return {a.shape, a.dtype};
}

namespace {
TensorMeta random_meta(const OpAttrs& op_attrs, const char* op) {
  const RandomAttrs& attrs = op_attrs.as<RandomAttrs>();
  KILN_CHECK(is_floating(attrs.dtype), op, ": dtype must be float32 or float64, got ", dtype_name(attrs.dtype));
  return {attrs.shape, attrs.dtype};
}

TensorMeta assign_meta(Inputs in, const char* op) {
  const Tensor &var = in[0], &value = in[1];
  KILN_CHECK(var.is_variable(), op, ": the target is not a Variable");
  KILN_CHECK(var.dtype() == value.dtype() && var.shape() == value.shape(), op, ": variable '",
             var.impl().name, "' is ", dtype_name(var.dtype()), var.shape().str(), ", value is ",
             dtype_name(value.dtype()), value.shape().str());
  return {var.shape(), var.dtype()};
}
}  // namespace

TensorMeta infer_RandomNormal(Inputs, const OpAttrs& attrs) { return random_meta(attrs, "random_normal"); }
TensorMeta infer_TruncatedNormal(Inputs, const OpAttrs& attrs) { return random_meta(attrs, "truncated_normal"); }
TensorMeta infer_RandomUniform(Inputs, const OpAttrs& attrs) { return random_meta(attrs, "random_uniform"); }
TensorMeta infer_ApplyAdam(Inputs in, const OpAttrs&) {
  const char* names[] = {"var", "m", "v", "grad"};
  for (int i = 0; i < 4; ++i) {
    KILN_CHECK(i == 3 || in[i].is_variable(), "apply_adam: ", names[i], " is not a Variable");
    KILN_CHECK(in[i].dtype() == in[0].dtype() && in[i].shape() == in[0].shape(), "apply_adam: ", names[i], " is ",
               dtype_name(in[i].dtype()), in[i].shape().str(), ", var is ", dtype_name(in[0].dtype()),
               in[0].shape().str());
  }
  KILN_CHECK(is_floating(in[0].dtype()), "apply_adam: var must be float32 or float64, got ", dtype_name(in[0].dtype()));
  KILN_CHECK(in[4].dtype() == in[0].dtype() && in[4].rank() == 0, "apply_adam: lr must be a ",
             dtype_name(in[0].dtype()), " scalar, got ", dtype_name(in[4].dtype()), in[4].shape().str());
  return {in[0].shape(), in[0].dtype()};
}
TensorMeta infer_Assign(Inputs in, const OpAttrs&) { return assign_meta(in, "assign"); }
TensorMeta infer_AssignAdd(Inputs in, const OpAttrs&) { return assign_meta(in, "assign_add"); }
TensorMeta infer_AssignSub(Inputs in, const OpAttrs&) { return assign_meta(in, "assign_sub"); }

}  // namespace kiln
