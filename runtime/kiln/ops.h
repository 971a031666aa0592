// The public ops: one function per row of op_table.def, plus C++ operators and conveniences.
#pragma once
#include <array>
#include <atomic>
#include <concepts>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

/// Axes for reductions; empty means "all axes".
using Axes = std::vector<int64_t>;

// ---- Elementwise binary (numpy broadcasting; both operands must have the same dtype) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
/// a / b; on integers it truncates toward zero (tf.truncatediv) and a zero divisor throws.
Tensor div(const Tensor& a, const Tensor& b);
/// a^b elementwise.
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
/// cond ? x : y elementwise; cond is bool; the three broadcast together.
Tensor where(const Tensor& cond, const Tensor& x, const Tensor& y);

// ---- Elementwise unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
/// 1 / sqrt(x).
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
/// 1 / (1 + exp(-x)).
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
/// dy where x > 0, else 0: relu's backward as one op.
Tensor relu_grad(const Tensor& dy, const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);

// ---- Softmax and losses (over the last axis) ----
Tensor softmax(const Tensor& logits);
Tensor log_softmax(const Tensor& logits);
/// Per-row -sum(labels * log_softmax(logits)); labels and logits are [N,C] floats.
Tensor softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits);
/// Per-row -log_softmax(logits)[label]; labels are [N] int32/int64 in [0, C).
Tensor sparse_softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits);

// ---- Contractions ----
/// a @ b for rank-2 operands, or batched over leading dims (which must match) for rank >= 3.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);

// ---- Convolutions (TF's layouts and padding rules; dilation 1) ----
/// 2-D convolution (tf.nn.conv2d): x [N,H,W,C] (NHWC), filter [KH,KW,C,F] (HWIO) -> [N,OH,OW,F],
///   y[n,i,j,o] = sum_{p,q,k} x[n, i*s_h + p - pad_top, j*s_w + q - pad_left, k] * filter[p,q,k,o]
/// (x read as 0 outside the image). padding "valid": no padding, OH = (H - KH) / s_h + 1 (the
/// filter must fit the input); "same": OH = ceil(H / s_h), total padding max((OH-1)*s_h + KH - H, 0)
/// with the odd row at the bottom (pad_top = total / 2); likewise for the width. float32/float64.
Tensor conv2d(const Tensor& x, const Tensor& filter, std::array<int64_t, 2> strides = {1, 1},
              const std::string& padding = "valid");
/// The gradient of conv2d with respect to its input (tf.raw_ops.Conv2DBackpropInput): the
/// [N,H,W,C] tensor dx with sum(conv2d(x, filter) * dy) = sum(x * dx) for every x of
/// `input_shape`; dy has conv2d's output shape. Linear in filter and in dy.
Tensor conv2d_backprop_input(const Shape& input_shape, const Tensor& filter, const Tensor& dy,
                             std::array<int64_t, 2> strides = {1, 1}, const std::string& padding = "valid");
/// The gradient of conv2d with respect to its filter (tf.raw_ops.Conv2DBackpropFilter): the
/// [KH,KW,C,F] tensor dfilter = sum over n, i, j of x's patch at (n, i, j) times dy[n,i,j,:].
/// Linear in x and in dy.
Tensor conv2d_backprop_filter(const Tensor& x, const Shape& filter_shape, const Tensor& dy,
                              std::array<int64_t, 2> strides = {1, 1}, const std::string& padding = "valid");

// ---- Reductions ----
Tensor reduce_sum(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor reduce_mean(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor reduce_max(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
/// Index of the largest value along `axis` (first one on ties), as int64 or int32.
Tensor argmax(const Tensor& x, int64_t axis, DType output_type = DType::Int64);

// ---- Pooling over H and W of NHWC tensors (TF's semantics; float32 and float64) ----
/// The max of each `ksize` = {kh, kw} window of x [N,H,W,C], moved by `strides` = {sh, sw}:
///   y[n,i,j,c] = max over a < kh, b < kw of x[n, i sh + a - pt, j sw + b - pl, c],
/// padding positions left out. `padding` is "valid" (no padding, pt = pl = 0,
/// OH = (H - kh) / sh + 1; a window larger than x throws) or "same" (OH = ceil(H / sh), total
/// padding max((OH - 1) sh + kh - H, 0) with pt = total / 2, the odd one at the bottom; likewise
/// for W). A window holding a NaN gives NaN. kiln::Error for a rank other than 4, a non-float
/// dtype, ksize or strides below 1, or another padding.
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides,
                  const std::string& padding = "valid");
/// The mean of each window's real elements (padding positions are not counted, as TF's avg_pool):
///   y[n,i,j,c] = (sum of the window's real x) / (their count). Arguments as max_pool2d.
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> ksize, std::array<int64_t, 2> strides,
                  const std::string& padding = "valid");
/// max_pool2d's backward (TF's MaxPoolGrad): dx of x's shape, zero but for each window's
/// dy[n,i,j,c] added at the window's first maximum in row-major order (the first NaN where it
/// holds one). y is max_pool2d(x) (checked for shape only; the maxima are found again in x).
/// Its gradient wrt dy is max_pool2d_grad_grad; wrt x and y it is zero.
Tensor max_pool2d_grad(const Tensor& x, const Tensor& y, const Tensor& dy, std::array<int64_t, 2> ksize,
                       std::array<int64_t, 2> strides, const std::string& padding = "valid");
/// g (x's shape) read at each window's first maximum: [N,OH,OW,C] (TF's MaxPoolGradGrad), the
/// gradient of max_pool2d_grad wrt dy. Its own gradient wrt g is max_pool2d_grad.
Tensor max_pool2d_grad_grad(const Tensor& x, const Tensor& y, const Tensor& g, std::array<int64_t, 2> ksize,
                            std::array<int64_t, 2> strides, const std::string& padding = "valid");
/// avg_pool2d's backward (TF's AvgPoolGrad): dx of `input_shape`, each window's dy / count added
/// to its real elements. Linear in dy; its gradient is avg_pool2d.
Tensor avg_pool2d_grad(const Shape& input_shape, const Tensor& dy, std::array<int64_t, 2> ksize,
                       std::array<int64_t, 2> strides, const std::string& padding = "valid");

// ---- Shape ops ----
/// One dimension of `shape` may be -1: it is inferred from the element count.
Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape);
/// Permutes dimensions; an empty `perm` reverses them (as tf.transpose).
Tensor transpose(const Tensor& x, const std::vector<int64_t>& perm = {});
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
/// x[begin : begin + size] per dim; a size of -1 means "to the end" (as tf.slice).
Tensor slice(const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& size);
/// Rows of `params` picked by `indices` (int32/int64): result shape indices.shape + params.shape[1:].
Tensor gather(const Tensor& params, const Tensor& indices);
/// Sums rows of `data` into `num_segments` rows by `segment_ids` (gather's transpose).
Tensor unsorted_segment_sum(const Tensor& data, const Tensor& segment_ids, int64_t num_segments);
Tensor one_hot(const Tensor& indices, int64_t depth, double on_value = 1.0, double off_value = 0.0,
               DType dtype = DType::Float32);

// ---- Creation ----
Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor fill(const Shape& shape, double value, DType dtype = DType::Float32);
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
/// Builds a tensor from host values (shape defaults to 1-D), as tf.constant.
template <typename T>
Tensor constant(const std::vector<T>& values, const Shape& shape) { return Tensor::from_vector(values, shape); }
template <typename T>
Tensor constant(const std::vector<T>& values) { return Tensor::from_vector(values); }
/// A tensor of `shape` filled with `value` (tf.constant(0.1, shape=[20])).
Tensor constant(double value, const Shape& shape = {}, DType dtype = DType::Float32);

/// A seeded source of random numbers; each random op draws a fresh sub-seed from it. Threads
/// may draw from one generator at once (a kiln::function called from several): each draw gets
/// a sub-seed of its own, in the order the draws reach the counter.
class Generator {
 public:
  explicit Generator(uint64_t seed) : state_(seed) {}
  Generator(const Generator& other) : state_(other.state_.load(std::memory_order_relaxed)) {}
  Generator& operator=(const Generator& other) {
    state_.store(other.state_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    return *this;
  }
  /// The next 64-bit sub-seed (splitmix64 of the counter).
  uint64_t next_seed();
  void reseed(uint64_t seed) { state_.store(seed, std::memory_order_relaxed); }
 private:
  std::atomic<uint64_t> state_;
};
struct OpAttrs;
/// Sets a random op's seed (RandomAttrs::seed) to the next draw of its generator. A Generator used
/// inside a kiln::function must outlive it: every call of the traced step draws from it.
void draw_seed(OpAttrs& attrs);
/// The global generator used when none is given; kiln::set_seed reseeds it (tf.random.set_seed).
Generator& global_generator();
void set_seed(uint64_t seed);

Tensor random_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                     DType dtype = DType::Float32, Generator* gen = nullptr);
/// Normal values redrawn until within 2 stddev of the mean (tf.random.truncated_normal).
Tensor truncated_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0,
                        DType dtype = DType::Float32, Generator* gen = nullptr);
/// Uniform in [minval, maxval).
Tensor random_uniform(const Shape& shape, double minval = 0.0, double maxval = 1.0,
                      DType dtype = DType::Float32, Generator* gen = nullptr);

/// Inverted dropout (tf.nn.dropout, Keras' Dropout): while `training`, each element is kept with
/// probability 1 - rate and scaled up, else zeroed:
///   y = u >= rate ? x / (1 - rate) : 0,   u = random_uniform(x.shape(), 0, 1, x.dtype(), gen)
/// (a fresh u per call; under kiln::function u is drawn on the host on every call, so each
/// compiled call gets a new mask). With `training` false or rate 0 it returns x itself.
/// `training` is a host value: kiln::function bakes it in at trace time. kiln::Error for a rate
/// outside [0, 1) or a non-float x.
Tensor dropout(const Tensor& x, double rate, bool training, Generator* gen = nullptr);
/// The dropout op on given uniform numbers u (x's dtype and shape): u >= rate ? x / (1 - rate) : 0.
/// Linear in x: its gradient wrt x is dropout_with_uniform(dy, u, rate); u gets none.
Tensor dropout_with_uniform(const Tensor& x, const Tensor& u, double rate);

// ---- Variable updates (in place; return the variable) ----
Tensor assign(const Variable& var, const Tensor& value);
Tensor assign_add(const Variable& var, const Tensor& value);
Tensor assign_sub(const Variable& var, const Tensor& value);

/// Adam's update of `var` with its slots `m`, `v` (TF's ResourceApplyAdam, one kernel):
///   m += (grad - m)(1 - beta_1);  v += (grad^2 - v)(1 - beta_2);  var -= lr m / (sqrt(v) + epsilon)
/// where `lr` is a scalar tensor (the bias-corrected rate). Returns the variable.
Tensor apply_adam(const Variable& var, const Variable& m, const Variable& v, const Tensor& grad, const Tensor& lr,
                  double beta_1, double beta_2, double epsilon);

// ---- C++ operators ----
// A C++ scalar operand becomes a rank-0 tensor of the other operand's dtype, as TF converts a
// Python number: an integer one (`x * 2`) for any dtype (kiln::Error when it does not fit an
// int32 tensor); a floating one (`x * 0.5`) for float tensors only: with an int32/int64 tensor it
// is a kiln::Error naming the op, the dtype and the value, 2.0 included, as TF raises for
// `int_tensor * 2.0` instead of truncating.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
namespace detail {
/// The scalar that the integer operand `value` of `op` becomes, in `like`'s dtype; `fits` says
/// whether the C++ value fitted int64 (a uint64 above INT64_MAX does not).
Tensor integer_operand(const char* op, int64_t value, bool fits, const Tensor& like);
template <std::integral I>
Tensor integer_operand(const char* op, I value, const Tensor& like) {
  return integer_operand(op, static_cast<int64_t>(value), std::in_range<int64_t>(value), like);
}
}  // namespace detail
template <std::integral I> Tensor operator+(const Tensor& a, I b) { return add(a, detail::integer_operand("add", b, a)); }
template <std::integral I> Tensor operator-(const Tensor& a, I b) { return sub(a, detail::integer_operand("sub", b, a)); }
template <std::integral I> Tensor operator*(const Tensor& a, I b) { return mul(a, detail::integer_operand("mul", b, a)); }
template <std::integral I> Tensor operator/(const Tensor& a, I b) { return div(a, detail::integer_operand("div", b, a)); }
template <std::integral I> Tensor operator+(I a, const Tensor& b) { return add(detail::integer_operand("add", a, b), b); }
template <std::integral I> Tensor operator-(I a, const Tensor& b) { return sub(detail::integer_operand("sub", a, b), b); }
template <std::integral I> Tensor operator*(I a, const Tensor& b) { return mul(detail::integer_operand("mul", a, b), b); }
template <std::integral I> Tensor operator/(I a, const Tensor& b) { return div(detail::integer_operand("div", a, b), b); }

/// Sums `x` down to `shape` (the reverse of broadcasting), as gradient rules need.
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

}  // namespace kiln
