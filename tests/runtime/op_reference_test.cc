// Reference tests of the elementwise, softmax, loss, matmul and reduction ops: each op's eager
// result against plain C++ loops, and the table tests that every op of kiln::all_ops() has a case.
// (Shape, creation, random and variable ops: op_reference_shape_test.cc.)
#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
using UnaryFn = Tensor (*)(const Tensor&);

// Shapes pairs covering each broadcast path: equal shapes, scalar on either side, a trailing
// vector, size-1 dims on both sides, differing ranks, and an empty result.
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{2, 3}, {2, 3}}, {{2, 3}, {3}},       {{2, 3}, {}},        {{}, {2, 3}},  {{2, 1, 3}, {4, 1}},
    {{3, 1}, {1, 4}}, {{4, 1}, {2, 1, 3}}, {{1, 3}, {2, 1}},    {{}, {}},      {{0, 3}, {3}},
};

// Checks op(a, b) against ref(a, b) applied per output element with numpy broadcasting.
template <typename Ref>
void check_binary(BinaryFn op, Ref ref, DType dtype, DType out_dtype, double lo, double hi, bool integral = false) {
  for (const auto& [sa, sb] : kBroadcastPairs) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + sa.str() + " with " + sb.str());
    // Integral values (floored, then in `dtype`) make ties common, which comparisons need.
    Tensor a = random(sa, integral ? DType::Int64 : dtype, lo, hi, 1);
    Tensor b = random(sb, integral ? DType::Int64 : dtype, lo, hi, 8);
    a = make(values(a), sa, dtype);
    b = make(values(b), sb, dtype);
    const Shape out = broadcast(sa, sb);
    std::vector<double> av = values(a), bv = values(b), want(static_cast<size_t>(out.num_elements()));
    for (int64_t i = 0; i < out.num_elements(); ++i) {
      std::vector<int64_t> idx = unravel(i, out);
      want[static_cast<size_t>(i)] = as_dtype(
          ref(av[static_cast<size_t>(broadcast_offset(idx, sa))], bv[static_cast<size_t>(broadcast_offset(idx, sb))]),
          out_dtype);
    }
    EXPECT_TRUE(tensor_near(op(a, b), out, out_dtype, want, rtol_for(out_dtype), atol_for(out_dtype)));
  }
}

template <typename Ref>
void check_arith(BinaryFn op, Ref ref, std::vector<DType> dtypes, double lo, double hi) {
  for (DType dt : dtypes) check_binary(op, ref, dt, dt, lo, hi);
}

const std::vector<DType> kNumeric = {DType::Float32, DType::Float64, DType::Int32, DType::Int64};
const std::vector<DType> kFloats = {DType::Float32, DType::Float64};

OP_REFERENCE_CASE(add_broadcasts, "add") { check_arith(add, [](double a, double b) { return a + b; }, kNumeric, -9, 9); }
OP_REFERENCE_CASE(sub_broadcasts, "sub") { check_arith(sub, [](double a, double b) { return a - b; }, kNumeric, -9, 9); }
OP_REFERENCE_CASE(mul_broadcasts, "mul") { check_arith(mul, [](double a, double b) { return a * b; }, kNumeric, -9, 9); }

OP_REFERENCE_CASE(div_broadcasts, "div") {
  // Divisors in [1, 9) (integers truncate toward zero, as C++ and tf.math.truncatediv do).
  for (DType dt : kNumeric) {
    Tensor a = random({2, 3}, dt, -20, 20, 3), b = random({3}, dt, 1, 9, 4);
    std::vector<double> av = values(a), bv = values(b), want;
    for (int i = 0; i < 6; ++i) {
      double q = av[i] / bv[i % 3];
      want.push_back(as_dtype(is_integer(dt) ? std::trunc(q) : q, dt));
    }
    EXPECT_TRUE(tensor_near(div(a, b), {2, 3}, dt, want, rtol_for(dt), atol_for(dt))) << dtype_name(dt);
  }
  check_binary(div, [](double a, double b) { return a / b; }, DType::Float64, DType::Float64, 0.5, 4);
  check_binary(div, [](double a, double b) { return a / b; }, DType::Float32, DType::Float32, 0.5, 4);
  EXPECT_TRUE(tensor_near(div(make({-7, 7, -7}, {3}, DType::Int32), make({2, -2, -2}, {3}, DType::Int32)), {3},
                          DType::Int32, {-3, -3, 3}));
}

OP_REFERENCE_CASE(pow_broadcasts, "pow") {
  for (DType dt : kFloats) check_binary(pow, [](double a, double b) { return std::pow(a, b); }, dt, dt, 0.25, 3);
  // Negative bases with integral exponents are defined; 0^0 is 1.
  EXPECT_TRUE(tensor_near(pow(f64({-2, -2, 0, 4}, {4}), f64({3, 2, 0, 0.5}, {4})), {4}, DType::Float64,
                          {-8, 4, 1, 2}));
}

OP_REFERENCE_CASE(maximum_minimum_broadcast, "maximum", "minimum") {
  check_arith(maximum, [](double a, double b) { return std::max(a, b); }, kNumeric, -9, 9);
  check_arith(minimum, [](double a, double b) { return std::min(a, b); }, kNumeric, -9, 9);
}

OP_REFERENCE_CASE(comparisons_broadcast, "equal", "not_equal", "less", "greater") {
  // Small integer ranges so that ties (equal elements) are common, in every dtype.
  for (DType dt : kNumeric) {
    check_binary(equal, [](double a, double b) { return a == b ? 1.0 : 0.0; }, dt, DType::Bool, 0, 3, true);
    check_binary(not_equal, [](double a, double b) { return a != b ? 1.0 : 0.0; }, dt, DType::Bool, 0, 3, true);
    check_binary(less, [](double a, double b) { return a < b ? 1.0 : 0.0; }, dt, DType::Bool, 0, 3, true);
    check_binary(greater, [](double a, double b) { return a > b ? 1.0 : 0.0; }, dt, DType::Bool, 0, 3, true);
  }
  check_binary(less, [](double a, double b) { return a < b ? 1.0 : 0.0; }, DType::Float64, DType::Bool, -1, 1);
  Tensor t = make({1, 0, 1}, {3}, DType::Bool), u = make({1, 1, 0}, {3}, DType::Bool);
  EXPECT_TRUE(tensor_near(equal(t, u), {3}, DType::Bool, {1, 0, 0}));
  EXPECT_TRUE(tensor_near(not_equal(t, u), {3}, DType::Bool, {0, 1, 1}));
}

OP_REFERENCE_CASE(where_broadcasts, "where") {
  struct Case { Shape c, x, y; };
  for (const Case& k : {Case{{2, 3}, {2, 3}, {2, 3}}, Case{{2, 3}, {3}, {}}, Case{{2, 1}, {1, 3}, {2, 3}},
                        Case{{3}, {2, 1}, {1}}, Case{{}, {2}, {2}}}) {
    for (DType dt : {DType::Float32, DType::Int64}) {
      SCOPED_TRACE(k.c.str() + " " + k.x.str() + " " + k.y.str());
      Tensor c = random(k.c, DType::Bool, 0, 2, 5), x = random(k.x, dt, -9, 9, 6), y = random(k.y, dt, -9, 9, 7);
      const Shape out = broadcast(k.c, broadcast(k.x, k.y));
      std::vector<double> cv = values(c), xv = values(x), yv = values(y), want;
      for (int64_t i = 0; i < out.num_elements(); ++i) {
        std::vector<int64_t> idx = unravel(i, out);
        want.push_back(cv[broadcast_offset(idx, k.c)] != 0 ? xv[broadcast_offset(idx, k.x)]
                                                           : yv[broadcast_offset(idx, k.y)]);
      }
      EXPECT_TRUE(tensor_near(where(c, x, y), out, dt, want));
    }
  }
}

// Checks op(x) against ref on [3,5] values in [lo, hi) and on `extra` values.
template <typename Ref>
void check_unary(UnaryFn op, Ref ref, const std::vector<DType>& dtypes, double lo, double hi,
                 const std::vector<double>& extra = {}, double rtol_f32 = 2e-6) {
  for (DType dt : dtypes) {
    SCOPED_TRACE(dtype_name(dt));
    for (Tensor x : {random({3, 5}, dt, lo, hi, 11), make(extra, {static_cast<int64_t>(extra.size())}, dt)}) {
      std::vector<double> want;
      for (double v : values(x)) want.push_back(as_dtype(ref(v), dt));
      const double rtol = dt == DType::Float32 ? rtol_f32 : rtol_for(dt);
      EXPECT_TRUE(tensor_near(op(x), x.shape(), dt, want, rtol, atol_for(dt)));
    }
  }
}

OP_REFERENCE_CASE(neg_ref, "neg") { check_unary(neg, [](double x) { return -x; }, kNumeric, -9, 9, {0, -3, 5}); }
OP_REFERENCE_CASE(exp_ref, "exp") {
  check_unary(exp, [](double x) { return std::exp(x); }, kFloats, -5, 5, {0, -80, 20, 1});
}
OP_REFERENCE_CASE(log_ref, "log") {
  check_unary(log, [](double x) { return std::log(x); }, kFloats, 0.01, 50, {1, 1e-30, 1e10});
  std::vector<double> special = values(log(f64({0, -1}, {2})));
  EXPECT_TRUE(std::isinf(special[0]) && special[0] < 0) << special[0];
  EXPECT_TRUE(std::isnan(special[1])) << special[1];
}
OP_REFERENCE_CASE(sqrt_ref, "sqrt") {
  check_unary(sqrt, [](double x) { return std::sqrt(x); }, kFloats, 0, 50, {0, 4, 1e-8});
}
OP_REFERENCE_CASE(rsqrt_ref, "rsqrt") {
  check_unary(rsqrt, [](double x) { return 1 / std::sqrt(x); }, kFloats, 0.01, 50, {1, 4, 1e6}, 1e-5);
}
OP_REFERENCE_CASE(square_ref, "square") {
  check_unary(square, [](double x) { return x * x; }, kNumeric, -9, 9, {0, -3, 1000});
}
OP_REFERENCE_CASE(abs_ref, "abs") { check_unary(abs, [](double x) { return std::fabs(x); }, kNumeric, -9, 9, {0, -2, 2}); }
OP_REFERENCE_CASE(relu_ref, "relu") {
  check_unary(relu, [](double x) { return x > 0 ? x : 0.0; }, kNumeric, -9, 9, {0, -1e-3, 1e-3});
}
OP_REFERENCE_CASE(sigmoid_ref, "sigmoid") {
  check_unary(sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, kFloats, -8, 8, {0, -30, 30, 2.5}, 1e-5);
}
OP_REFERENCE_CASE(tanh_ref, "tanh") {
  check_unary(tanh, [](double x) { return std::tanh(x); }, kFloats, -4, 4, {0, -30, 30, 1e-4}, 1e-5);
}

OP_REFERENCE_CASE(relu_grad_ref, "relu_grad") {
  for (DType dt : kNumeric) {
    Tensor dy = random({4, 3}, dt, -9, 9, 21);
    Tensor x = make({-2, -1, 0, 1, 2, 3, 0, -5, 7, -0.5, 0.5, 9}, {4, 3}, dt);
    std::vector<double> dv = values(dy), xv = values(x), want;
    for (size_t i = 0; i < dv.size(); ++i) want.push_back(xv[i] > 0 ? dv[i] : 0);
    EXPECT_TRUE(tensor_near(relu_grad(dy, x), {4, 3}, dt, want)) << dtype_name(dt);
  }
}

OP_REFERENCE_CASE(cast_between_dtypes, "cast") {
  const std::vector<double> src = {-2.75, -1.5, -0.25, 0, 0.5, 1, 3.9, 100.25};
  const std::vector<DType> all = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool};
  for (DType from : all)
    for (DType to : all) {
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
      Tensor x = make(src, {2, 4}, from);
      std::vector<double> want;
      for (double v : values(x)) want.push_back(as_dtype(v, to));
      Tensor y = cast(x, to);
      EXPECT_TRUE(tensor_near(y, {2, 4}, to, want));
      if (from == to) {
        EXPECT_TRUE(y.is_same(x)) << "a cast to the same dtype returns its input";
      }
    }
  // Truncation toward zero, and large values through float64 -> int64.
  EXPECT_TRUE(tensor_near(cast(f64({-1.7, 1.7, 3e12}, {3}), DType::Int64), {3}, DType::Int64, {-1, 1, 3e12}));
}

// ---- Softmax family ----

std::vector<double> ref_log_softmax(const std::vector<double>& x, int64_t c) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / static_cast<size_t>(c); ++r) {
    const double* row = x.data() + r * c;
    double m = *std::max_element(row, row + c), s = 0;
    for (int64_t j = 0; j < c; ++j) s += std::exp(row[j] - m);
    for (int64_t j = 0; j < c; ++j) out[r * c + j] = row[j] - m - std::log(s);
  }
  return out;
}

OP_REFERENCE_CASE(softmax_and_log_softmax, "softmax", "log_softmax") {
  for (DType dt : kFloats)
    for (Shape s : {Shape{4, 5}, Shape{2, 3, 4}, Shape{6}, Shape{3, 1}}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + s.str());
      Tensor x = random(s, dt, -6, 6, 31);
      std::vector<double> ls = ref_log_softmax(values(x), s[s.rank() - 1]), p;
      for (double v : ls) p.push_back(std::exp(v));
      EXPECT_TRUE(tensor_near(log_softmax(x), s, dt, ls, 1e-5 * (dt == DType::Float32) + 1e-12, atol_for(dt)));
      EXPECT_TRUE(tensor_near(softmax(x), s, dt, p, rtol_for(dt), atol_for(dt)));
    }
  // Stable for large logits: exp(1000) overflows a naive softmax.
  Tensor big = make({1000, 1001, 999, -1000}, {1, 4}, DType::Float32);
  std::vector<double> ls = ref_log_softmax(values(big), 4), p;
  for (double v : ls) p.push_back(std::exp(v));
  EXPECT_TRUE(tensor_near(softmax(big), {1, 4}, DType::Float32, p, 1e-6, 1e-7));
  EXPECT_TRUE(tensor_near(log_softmax(big), {1, 4}, DType::Float32, ls, 1e-6, 1e-4));
}

OP_REFERENCE_CASE(softmax_cross_entropy_ref, "softmax_cross_entropy_with_logits") {
  for (DType dt : kFloats) {
    const int64_t n = 4, c = 5;
    Tensor logits = random({n, c}, dt, -4, 4, 41);
    // Soft labels (rows sum to 1), one row one-hot, one row all zeros.
    std::vector<double> y = uniform(n * c, 0, 1, 42);
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < c; ++j) s += y[i * c + j];
      for (int64_t j = 0; j < c; ++j) y[i * c + j] /= s;
    }
    for (int64_t j = 0; j < c; ++j) {
      y[1 * c + j] = j == 2 ? 1.0 : 0.0;
      y[3 * c + j] = 0;
    }
    Tensor labels = make(y, {n, c}, dt);
    std::vector<double> ls = ref_log_softmax(values(logits), c), yv = values(labels), want(n, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j) want[i] -= yv[i * c + j] * ls[i * c + j];
    EXPECT_TRUE(tensor_near(softmax_cross_entropy_with_logits(labels, logits), {n}, dt, want, 1e-5, atol_for(dt)))
        << dtype_name(dt);
  }
}

OP_REFERENCE_CASE(sparse_softmax_cross_entropy_ref, "sparse_softmax_cross_entropy_with_logits") {
  for (DType dt : kFloats)
    for (DType label_dt : {DType::Int32, DType::Int64}) {
      Tensor logits = random({5, 3}, dt, -4, 4, 51);
      Tensor labels = make({0, 2, 1, 2, 0}, {5}, label_dt);
      std::vector<double> ls = ref_log_softmax(values(logits), 3), want;
      for (int i = 0; i < 5; ++i) want.push_back(-ls[i * 3 + static_cast<int>(values(labels)[i])]);
      EXPECT_TRUE(tensor_near(sparse_softmax_cross_entropy_with_logits(labels, logits), {5}, dt, want, 1e-5,
                              atol_for(dt)));
    }
  // Large logits stay finite.
  Tensor big = make({1000, -1000, 0}, {1, 3}, DType::Float32);
  EXPECT_TRUE(tensor_near(sparse_softmax_cross_entropy_with_logits(make({1}, {1}, DType::Int32), big), {1},
                          DType::Float32, {2000}, 1e-6));
}

// ---- MatMul ----

void check_matmul(const Shape& sa, const Shape& sb, bool ta, bool tb, DType dt) {
  SCOPED_TRACE(sa.str() + (ta ? "^T" : "") + " @ " + sb.str() + (tb ? "^T" : "") + " " + dtype_name(dt));
  Tensor a = random(sa, dt, -3, 3, 61), b = random(sb, dt, -3, 3, 62);
  const int r = sa.rank();
  const int64_t m = ta ? sa[r - 1] : sa[r - 2], k = ta ? sa[r - 2] : sa[r - 1], n = tb ? sb[r - 2] : sb[r - 1];
  int64_t batches = 1;
  Shape out;
  for (int i = 0; i < r - 2; ++i) {
    batches *= sa[i];
    out.push_back(sa[i]);
  }
  out.push_back(m);
  out.push_back(n);
  std::vector<double> av = values(a), bv = values(b), want;
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) {
          double x = av[bi * m * k + (ta ? p * m + i : i * k + p)];
          double y = bv[bi * k * n + (tb ? j * k + p : p * n + j)];
          s += x * y;
        }
        want.push_back(s);
      }
  EXPECT_TRUE(tensor_near(matmul(a, b, ta, tb), out, dt, want, 10 * rtol_for(dt), 10 * atol_for(dt)));
}

OP_REFERENCE_CASE(matmul_transposed_and_batched, "matmul") {
  for (DType dt : kNumeric) {
    check_matmul({3, 4}, {4, 5}, false, false, dt);
    check_matmul({4, 3}, {4, 5}, true, false, dt);
    check_matmul({3, 4}, {5, 4}, false, true, dt);
    check_matmul({4, 3}, {5, 4}, true, true, dt);
  }
  for (DType dt : kFloats) {
    check_matmul({2, 3, 4}, {2, 4, 5}, false, false, dt);
    check_matmul({2, 4, 3}, {2, 5, 4}, true, true, dt);
    check_matmul({2, 3, 4}, {2, 5, 4}, false, true, dt);
    check_matmul({2, 2, 3, 4}, {2, 2, 4, 2}, false, false, dt);
    check_matmul({1, 1}, {1, 7}, false, false, dt);
    check_matmul({17, 33}, {33, 9}, false, false, dt);
    // Large enough for the blocked GEMM path, not only the small-product one.
    check_matmul({40, 50}, {50, 30}, false, false, dt);
    check_matmul({50, 40}, {30, 50}, true, true, dt);
    check_matmul({2, 40, 50}, {2, 30, 50}, false, true, dt);
  }
  check_matmul({40, 50}, {40, 30}, true, false, DType::Int64);
  check_matmul({3, 0}, {0, 2}, false, false, DType::Float32);  // empty inner dimension: zeros
}

// ---- Reductions ----

enum class Reduce { Sum, Mean, Max };

void check_reduce(Reduce kind, const Shape& s, const Axes& axes, bool keepdims, DType dt) {
  SCOPED_TRACE(s.str() + " axes " + ::testing::PrintToString(axes) + (keepdims ? " keepdims " : " ") + dtype_name(dt));
  Tensor x = random(s, dt, -9, 9, 71);
  std::vector<bool> reduced(static_cast<size_t>(s.rank()), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a < 0 ? a + s.rank() : a)] = true;
  Shape out, kept;
  for (int d = 0; d < s.rank(); ++d) {
    kept.push_back(reduced[d] ? 1 : s[d]);
    if (!reduced[d]) out.push_back(s[d]);
    else if (keepdims) out.push_back(1);
  }
  std::vector<double> acc(static_cast<size_t>(kept.num_elements()),
                          kind == Reduce::Max ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<double> xv = values(x);
  for (int64_t i = 0; i < s.num_elements(); ++i) {
    std::vector<int64_t> idx = unravel(i, s);
    for (int d = 0; d < s.rank(); ++d)
      if (reduced[d]) idx[d] = 0;
    double& slot = acc[ravel(idx, kept)];
    slot = kind == Reduce::Max ? std::max(slot, xv[i]) : slot + xv[i];
  }
  if (kind == Reduce::Mean) {
    const double count = static_cast<double>(s.num_elements()) / static_cast<double>(kept.num_elements());
    for (double& v : acc) v = is_integer(dt) ? std::trunc(v / count) : v / count;
  }
  Tensor y = kind == Reduce::Sum ? reduce_sum(x, axes, keepdims)
             : kind == Reduce::Mean ? reduce_mean(x, axes, keepdims) : reduce_max(x, axes, keepdims);
  EXPECT_TRUE(tensor_near(y, out, dt, acc, rtol_for(dt), 10 * atol_for(dt)));
}

void check_reductions(Reduce kind) {
  const std::vector<Axes> axes_list = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {-3, 1}, {0, 1, 2}};
  for (DType dt : kNumeric)
    for (const Axes& axes : axes_list)
      for (bool keepdims : {false, true}) check_reduce(kind, {2, 3, 4}, axes, keepdims, dt);
  check_reduce(kind, {7}, {0}, false, DType::Float64);
  check_reduce(kind, {5, 1}, {1}, true, DType::Float32);
  check_reduce(kind, {}, {}, false, DType::Float32);  // a scalar reduces to itself
  check_reduce(kind, {2, 3, 2, 2}, {1, 3}, false, DType::Float64);
}

OP_REFERENCE_CASE(reduce_sum_axes, "reduce_sum") {
  check_reductions(Reduce::Sum);
  // A long float32 sum stays accurate, and an empty sum is 0.
  EXPECT_TRUE(tensor_near(reduce_sum(fill({1 << 20}, 0.1)), {}, DType::Float32, {(1 << 20) * 0.1f}, 1e-6));
  EXPECT_TRUE(tensor_near(reduce_sum(zeros({0, 3}), {0}), {3}, DType::Float32, {0, 0, 0}));
}
OP_REFERENCE_CASE(reduce_mean_axes, "reduce_mean") {
  check_reductions(Reduce::Mean);
  EXPECT_TRUE(tensor_near(reduce_mean(make({1, 2, 4}, {3}, DType::Int32)), {}, DType::Int32, {2}));
}
OP_REFERENCE_CASE(reduce_max_axes, "reduce_max") {
  check_reductions(Reduce::Max);
  // All-negative values: the running maximum must not start at 0.
  EXPECT_TRUE(tensor_near(reduce_max(make({-5, -3, -4}, {3})), {}, DType::Float32, {-3}));
  EXPECT_TRUE(tensor_near(reduce_max(make({-5, -3, -4, -9}, {2, 2}, DType::Int64), {1}), {2}, DType::Int64, {-3, -4}));
}

OP_REFERENCE_CASE(argmax_with_ties, "argmax") {
  const Shape s{3, 4, 5};
  for (DType dt : kNumeric)
    for (int64_t axis : {0, 1, 2, -1, -3})
      for (DType out_dt : {DType::Int64, DType::Int32}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " axis " + std::to_string(axis));
        Tensor x = random(s, dt, 0, 3, 81);  // values 0..2: many ties, the first index wins
        const int ax = static_cast<int>(axis < 0 ? axis + 3 : axis);
        Shape out;
        for (int d = 0; d < 3; ++d)
          if (d != ax) out.push_back(s[d]);
        std::vector<double> xv = values(x), want;
        for (int64_t o = 0; o < out.num_elements(); ++o) {
          std::vector<int64_t> oi = unravel(o, out), idx;
          for (int d = 0, k = 0; d < 3; ++d) idx.push_back(d == ax ? 0 : oi[k++]);
          int64_t best = 0;
          for (int64_t j = 0; j < s[ax]; ++j) {
            idx[ax] = j;
            const double v = xv[ravel(idx, s)];
            idx[ax] = best;
            if (v > xv[ravel(idx, s)]) best = j;
          }
          want.push_back(static_cast<double>(best));
        }
        EXPECT_TRUE(tensor_near(argmax(x, axis, out_dt), out, out_dt, want));
      }
  EXPECT_TRUE(tensor_near(argmax(make({2, 7, 7, 1}, {4}), 0), {}, DType::Int64, {1}));
  EXPECT_TRUE(tensor_near(argmax(make({-3, -1, -2}, {3}), 0), {}, DType::Int64, {1}));
}

// ---- The table tests ----

class OpReference : public ::testing::TestWithParam<std::string> {};

TEST_P(OpReference, MatchesPlainLoops) { run_cases(reference_cases(), GetParam(), "reference"); }

INSTANTIATE_TEST_SUITE_P(OpTable, OpReference, ::testing::ValuesIn(all_op_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(OpReferenceTable, EveryOpHasAReferenceCase) {
  std::vector<std::string> missing = ops_without_case(reference_cases(), false);
  EXPECT_TRUE(missing.empty()) << "ops of op_table.def without a reference case (add an OP_REFERENCE_CASE): "
                               << join(missing);
  std::vector<std::string> unknown = cases_for_unknown_ops(reference_cases(), false);
  EXPECT_TRUE(unknown.empty()) << "reference cases registered for names that are not ops: " << join(unknown);
}

TEST(OpReferenceTable, EachCaseCallsTheOpsItCovers) {
  std::vector<std::string> bad = cases_not_calling_their_op(reference_cases());
  EXPECT_TRUE(bad.empty()) << "reference cases that never call an op they are registered for: " << join(bad);
}

}  // namespace
}  // namespace kiln::test
