// The public op functions: each packs its attributes and goes through call_op.
#include "kiln/ops.h"

#include <charconv>
#include <cmath>
#include <string>

#include "kiln/core/dispatch.h"

namespace kiln {
namespace {
Tensor call1(OpId id, const Tensor& x, const OpAttrs& attrs = {}) {
  const Tensor in[] = {x};
  return call_op(id, in, attrs);
}
Tensor call2(OpId id, const Tensor& a, const Tensor& b, const OpAttrs& attrs = {}) {
  const Tensor in[] = {a, b};
  return call_op(id, in, attrs);
}
OpAttrs reduce_attrs(const Axes& axes, bool keepdims) {
  return ReduceAttrs{.axes = IntList(axes), .keepdims = keepdims};
}
OpAttrs random_attrs(const Shape& shape, DType dtype, double a, double b, Generator* gen) {
  OpAttrs attrs = RandomAttrs{.shape = shape, .dtype = dtype, .a = a, .b = b, .seed = 0,
                              .generator = gen != nullptr ? gen : &global_generator()};
  draw_seed(attrs);
  return attrs;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return call2(OpId::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return call2(OpId::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return call2(OpId::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return call2(OpId::Div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return call2(OpId::Pow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return call2(OpId::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return call2(OpId::Minimum, a, b); }
Tensor equal(const Tensor& a, const Tensor& b) { return call2(OpId::Equal, a, b); }
Tensor not_equal(const Tensor& a, const Tensor& b) { return call2(OpId::NotEqual, a, b); }
Tensor less(const Tensor& a, const Tensor& b) { return call2(OpId::Less, a, b); }
Tensor greater(const Tensor& a, const Tensor& b) { return call2(OpId::Greater, a, b); }
Tensor where(const Tensor& cond, const Tensor& x, const Tensor& y) {
  const Tensor in[] = {cond, x, y};
  return call_op(OpId::Where, in);
}

Tensor neg(const Tensor& x) { return call1(OpId::Neg, x); }
Tensor exp(const Tensor& x) { return call1(OpId::Exp, x); }
Tensor log(const Tensor& x) { return call1(OpId::Log, x); }
Tensor sqrt(const Tensor& x) { return call1(OpId::Sqrt, x); }
Tensor rsqrt(const Tensor& x) { return call1(OpId::Rsqrt, x); }
Tensor square(const Tensor& x) { return call1(OpId::Square, x); }
Tensor abs(const Tensor& x) { return call1(OpId::Abs, x); }
Tensor relu(const Tensor& x) { return call1(OpId::Relu, x); }
Tensor sigmoid(const Tensor& x) { return call1(OpId::Sigmoid, x); }
Tensor tanh(const Tensor& x) { return call1(OpId::Tanh, x); }
Tensor relu_grad(const Tensor& dy, const Tensor& x) { return call2(OpId::ReluGrad, dy, x); }
Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  return call1(OpId::Cast, x, CastAttrs{.dtype = dtype});
}

Tensor softmax(const Tensor& logits) { return call1(OpId::Softmax, logits); }
Tensor log_softmax(const Tensor& logits) { return call1(OpId::LogSoftmax, logits); }
Tensor softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits) {
  return call2(OpId::SoftmaxCrossEntropy, labels, logits);
}
Tensor sparse_softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits) {
  return call2(OpId::SparseSoftmaxCrossEntropy, labels, logits);
}

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
  return call2(OpId::MatMul, a, b, MatMulAttrs{.transpose_a = transpose_a, .transpose_b = transpose_b});
}

namespace {
// ints = strides, b0 = same padding; a padding other than "valid"/"same" or a non-positive
// stride is refused here, naming the op, as TF does.
Conv2DAttrs conv_attrs(const char* op, std::array<int64_t, 2> strides, const std::string& padding) {
  KILN_CHECK(padding == "valid" || padding == "same", op, ": padding must be \"valid\" or \"same\", got \"", padding,
             "\"");
  KILN_CHECK(strides[0] > 0 && strides[1] > 0, op, ": strides must be positive, got [", strides[0], ",", strides[1], "]");
  return Conv2DAttrs{.stride_h = strides[0], .stride_w = strides[1], .same_padding = padding == "same", .input_shape = {}};
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& filter, std::array<int64_t, 2> strides, const std::string& padding) {
  return call2(OpId::Conv2D, x, filter, conv_attrs("conv2d", strides, padding));
}
Tensor conv2d_backprop_input(const Shape& input_shape, const Tensor& filter, const Tensor& dy,
                             std::array<int64_t, 2> strides, const std::string& padding) {
  Conv2DAttrs attrs = conv_attrs("conv2d_backprop_input", strides, padding);
  attrs.input_shape = input_shape;
  return call2(OpId::Conv2DBackpropInput, filter, dy, attrs);
}
Tensor conv2d_backprop_filter(const Tensor& x, const Shape& filter_shape, const Tensor& dy,
                              std::array<int64_t, 2> strides, const std::string& padding) {
  Conv2DAttrs attrs = conv_attrs("conv2d_backprop_filter", strides, padding);
  attrs.input_shape = filter_shape;
  return call2(OpId::Conv2DBackpropFilter, x, dy, attrs);
}

Tensor reduce_sum(const Tensor& x, const Axes& axes, bool keepdims) {
  return call1(OpId::ReduceSum, x, reduce_attrs(axes, keepdims));
}
Tensor reduce_mean(const Tensor& x, const Axes& axes, bool keepdims) {
  return call1(OpId::ReduceMean, x, reduce_attrs(axes, keepdims));
}
Tensor reduce_max(const Tensor& x, const Axes& axes, bool keepdims) {
  return call1(OpId::ReduceMax, x, reduce_attrs(axes, keepdims));
}
Tensor argmax(const Tensor& x, int64_t axis, DType output_type) {
  return call1(OpId::ArgMax, x, ArgMaxAttrs{.axis = axis, .dtype = output_type});
}

Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape) {
  int infer_at = -1;
  int64_t known = 1;  // a dim: symbolic when the target holds a symbolic dim (Note [Symbolic dims])
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      KILN_CHECK(infer_at < 0, "reshape: more than one -1 in the target shape");
      infer_at = static_cast<int>(i);
    } else {
      KILN_CHECK(shape[i] >= 0 || is_symbolic_dim(shape[i]), "reshape: negative dimension ", shape[i],
                 " in the target shape");
      known = dim_mul(known, shape[i]);
    }
  }
  std::vector<int64_t> resolved = shape;
  if (infer_at >= 0) {
    const int64_t total = x.shape().sym_num_elements();
    if (std::optional<int64_t> q = dim_div(total, known)) {
      resolved[static_cast<size_t>(infer_at)] = *q;
    } else {  // not exact for every size: the call's sizes decide
      const int64_t n = dim_value(total, "reshape"), k = dim_value(known, "reshape");
      KILN_CHECK(k > 0 && n % k == 0, "reshape: cannot infer the -1 dimension: ", n, " elements of ", x.shape().str(),
                 " are not divisible by ", k);
      resolved[static_cast<size_t>(infer_at)] = n / k;
    }
  }
  ShapeAttrs attrs{.shape = Shape::of_dims(resolved)};
  if (attrs.shape.same_dims(x.shape())) return x;
  return call1(OpId::Reshape, x, attrs);
}

Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  TransposeAttrs attrs;
  if (perm.empty()) {
    for (int i = x.rank() - 1; i >= 0; --i) attrs.perm.push_back(i);
  } else {
    attrs.perm = IntList(perm);
  }
  return call1(OpId::Transpose, x, attrs);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  return call1(OpId::BroadcastTo, x, ShapeAttrs{.shape = shape});
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  return call_op(OpId::Concat, xs, ConcatAttrs{.axis = axis});
}

Tensor slice(const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& size) {
  KILN_CHECK(static_cast<int>(begin.size()) == x.rank() && static_cast<int>(size.size()) == x.rank(),
             "slice: begin and size need ", x.rank(), " entries for ", x.shape().str(), ", got ",
             begin.size(), " and ", size.size());
  SliceAttrs attrs{.begin = IntList(begin), .size = {}};
  for (int i = 0; i < x.rank(); ++i) {
    KILN_CHECK(size[i] >= -1 || is_symbolic_dim(size[i]), "slice: size ", size[i], " of dimension ", i,
               " is negative (only -1, \"to the end\", is allowed)");
    if (begin[i] == 0 && (size[i] == -1 || size[i] == x.shape().sym(i))) {  // the whole dim, for every size (Note [Symbolic dims])
      attrs.size.push_back(x.shape().sym(i));
      continue;
    }
    KILN_CHECK(begin[i] >= 0 && begin[i] <= x.dim(i), "slice: begin ", begin[i], " of dimension ", i,
               " is outside [0, ", x.dim(i), "]");
    attrs.size.push_back(size[i] == -1 ? x.dim(i) - begin[i] : size[i]);
  }
  return call1(OpId::Slice, x, attrs);
}

Tensor gather(const Tensor& params, const Tensor& indices) { return call2(OpId::Gather, params, indices); }

Tensor unsorted_segment_sum(const Tensor& data, const Tensor& segment_ids, int64_t num_segments) {
  KILN_CHECK(num_segments >= 0, "unsorted_segment_sum: num_segments is negative: ", num_segments);
  return call2(OpId::UnsortedSegmentSum, data, segment_ids, ShapeAttrs{.shape = Shape{num_segments}});
}

Tensor one_hot(const Tensor& indices, int64_t depth, double on_value, double off_value, DType dtype) {
  return call1(OpId::OneHot, indices,
               OneHotAttrs{.depth = depth, .on_value = on_value, .off_value = off_value, .dtype = dtype});
}

Tensor fill(const Shape& shape, double value, DType dtype) {
  return call_op(OpId::Fill, {}, FillAttrs{.shape = shape, .dtype = dtype, .value = value});
}
Tensor zeros(const Shape& shape, DType dtype) { return fill(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return fill(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& x) { return fill(x.shape(), 0.0, x.dtype()); }
Tensor ones_like(const Tensor& x) { return fill(x.shape(), 1.0, x.dtype()); }
Tensor constant(double value, const Shape& shape, DType dtype) { return fill(shape, value, dtype); }

uint64_t Generator::next_seed() {
  constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;
  uint64_t z = state_.fetch_add(kGamma, std::memory_order_relaxed) + kGamma;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void draw_seed(OpAttrs& attrs) {
  RandomAttrs& random = attrs.as<RandomAttrs>();
  KILN_ASSERT(random.generator != nullptr, "a random op's attributes name its generator");
  random.seed = static_cast<int64_t>(random.generator->next_seed() >> 1);
}

Generator& global_generator() {
  static Generator gen(0x5eed);
  return gen;
}
void set_seed(uint64_t seed) { global_generator().reseed(seed); }

Tensor random_normal(const Shape& shape, double mean, double stddev, DType dtype, Generator* gen) {
  return call_op(OpId::RandomNormal, {}, random_attrs(shape, dtype, mean, stddev, gen));
}
Tensor truncated_normal(const Shape& shape, double mean, double stddev, DType dtype, Generator* gen) {
  return call_op(OpId::TruncatedNormal, {}, random_attrs(shape, dtype, mean, stddev, gen));
}
Tensor random_uniform(const Shape& shape, double minval, double maxval, DType dtype, Generator* gen) {
  KILN_CHECK(minval < maxval, "random_uniform: minval ", minval, " must be below maxval ", maxval);
  return call_op(OpId::RandomUniform, {}, random_attrs(shape, dtype, minval, maxval, gen));
}

Tensor dropout(const Tensor& x, double rate, bool training, Generator* gen) {
  KILN_CHECK(x.defined(), "dropout: x is an undefined Tensor");
  KILN_CHECK(rate >= 0 && rate < 1, "dropout: rate must be in [0, 1), got ", rate);
  KILN_CHECK(is_floating(x.dtype()), "dropout: x must be float32 or float64, got ", dtype_name(x.dtype()),
             x.shape().str());
  if (!training || rate == 0) return x;
  return dropout_with_uniform(x, random_uniform(x.shape(), 0.0, 1.0, x.dtype(), gen), rate);
}

Tensor dropout_with_uniform(const Tensor& x, const Tensor& u, double rate) {
  return call2(OpId::Dropout, x, u, DropoutAttrs{.rate = rate});
}

Tensor assign(const Variable& var, const Tensor& value) { return call2(OpId::Assign, var, value); }
Tensor assign_add(const Variable& var, const Tensor& value) { return call2(OpId::AssignAdd, var, value); }
Tensor assign_sub(const Variable& var, const Tensor& value) { return call2(OpId::AssignSub, var, value); }

Tensor apply_adam(const Variable& var, const Variable& m, const Variable& v, const Tensor& grad, const Tensor& lr,
                  double beta_1, double beta_2, double epsilon) {
  const Tensor in[] = {var, m, v, grad, lr};
  return call_op(OpId::ApplyAdam, in, AdamAttrs{.beta_1 = beta_1, .beta_2 = beta_2, .epsilon = epsilon});
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
namespace {
// The scalar that the floating C++ operand `value` of `op` becomes, in `like`'s dtype. An integer
// tensor refuses it, as TF's convert_to_tensor refuses a Python float for an int dtype ("Cannot
// convert 0.5 to EagerTensor of dtype int32"): truncating would turn `x * 0.5` into `x * 0`.
Tensor float_operand(const char* op, double value, const Tensor& like) {
  if (is_integer(like.dtype())) {
    char text[32];
    std::string shown(text, std::to_chars(text, text + sizeof text, value).ptr);  // shortest exact form
    if (std::isfinite(value) && shown.find_first_of(".e") == std::string::npos) shown += ".0";
    KILN_CHECK(false, op, ": the C++ operand ", shown, " is a floating-point number and the other operand is ",
               like.type_str(), ": Kiln does not truncate it (TF raises too); use an integer operand (x * 2) or ",
               "cast the tensor (cast(x, DType::Float32) * 0.5)");
  }
  return Tensor::scalar(value, like.dtype());
}
}  // namespace

Tensor detail::integer_operand(const char* op, int64_t value, bool fits, const Tensor& like) {
  const DType dtype = like.dtype();
  KILN_CHECK(fits, op, ": the C++ operand ", static_cast<uint64_t>(value), " is out of range for ", like.type_str());
  if (dtype == DType::Int64) return Tensor::scalar<int64_t>(value);  // exact beyond 2^53
  KILN_CHECK(dtype != DType::Int32 || std::in_range<int32_t>(value), op, ": the C++ operand ", value,
             " is out of range for ", like.type_str());
  return Tensor::scalar(static_cast<double>(value), dtype);
}

Tensor operator+(const Tensor& a, double b) { return add(a, float_operand("add", b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, float_operand("sub", b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, float_operand("mul", b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, float_operand("div", b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(float_operand("add", a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(float_operand("sub", a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(float_operand("mul", a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(float_operand("div", a, b), b); }

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape().same_dims(shape)) return x;
  int lead = x.rank() - shape.rank();
  KILN_ASSERT(lead >= 0, "sum_to_shape target has no more dims than the source");
  Axes axes;
  for (int i = 0; i < x.rank(); ++i)
    if (i < lead || (shape.sym(i - lead) == 1 && x.shape().sym(i) != 1)) axes.push_back(i);
  Tensor summed = axes.empty() ? x : reduce_sum(x, axes, /*keepdims=*/true);
  return reshape(summed, shape.sym_vec());
}

}  // namespace kiln
