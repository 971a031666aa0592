// Reference tests of the pooling ops, their gradient ops and dropout: eager results against
// naive loops written here from TF's definitions (padding, first maxima, real-element counts),
// dropout's statistics and gradient, and their error messages.
#include <cmath>
#include <limits>

#include "tests/error_of.h"
#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

struct PoolCase {
  Shape x;
  std::array<int64_t, 2> k, s;
  const char* padding;
};

// valid/same, strides 1 and 2, windows 2x2, 3x3 and 2x3, odd sizes, N = 1 and C = 1, a window
// larger than the input (same), strides larger than the window, 11 and 20 channels.
const std::vector<PoolCase> kPoolCases = {
    {{2, 5, 7, 3}, {2, 2}, {2, 2}, "valid"}, {{2, 5, 7, 3}, {2, 2}, {2, 2}, "same"},
    {{2, 5, 7, 3}, {3, 3}, {1, 1}, "valid"}, {{2, 5, 7, 3}, {3, 3}, {1, 1}, "same"},
    {{1, 6, 6, 2}, {3, 3}, {2, 2}, "valid"}, {{1, 6, 6, 2}, {3, 3}, {2, 2}, "same"},
    {{2, 4, 5, 1}, {2, 3}, {1, 2}, "same"},  {{1, 7, 5, 2}, {2, 2}, {3, 3}, "valid"},
    {{1, 2, 2, 3}, {3, 3}, {1, 1}, "same"},  {{3, 3, 3, 4}, {1, 1}, {1, 1}, "valid"},
    {{1, 9, 9, 1}, {3, 3}, {2, 2}, "SAME"},
    // Channel counts past one vector block, with a remainder (Note [Channel blocks] in kernels/cpu/pool.cc).
    {{2, 5, 6, 20}, {2, 2}, {2, 2}, "same"}, {{1, 5, 5, 11}, {3, 3}, {1, 1}, "valid"},
};

std::string label(const PoolCase& p) {
  return p.x.str() + " k" + std::to_string(p.k[0]) + "x" + std::to_string(p.k[1]) + " s" + std::to_string(p.s[0]) + "x" +
         std::to_string(p.s[1]) + " " + p.padding;
}

// TF's window geometry, written out: output size and the padding before.
struct Geometry {
  int64_t oh, ow, pt, pl;
};
Geometry geometry(const PoolCase& p) {
  const int64_t h = p.x[1], w = p.x[2];
  const bool same = std::string(p.padding) == "same" || std::string(p.padding) == "SAME";
  if (!same) return {(h - p.k[0]) / p.s[0] + 1, (w - p.k[1]) / p.s[1] + 1, 0, 0};
  const int64_t oh = (h + p.s[0] - 1) / p.s[0], ow = (w + p.s[1] - 1) / p.s[1];
  const int64_t th = std::max<int64_t>((oh - 1) * p.s[0] + p.k[0] - h, 0), tw = std::max<int64_t>((ow - 1) * p.s[1] + p.k[1] - w, 0);
  return {oh, ow, th / 2, tw / 2};
}

// Calls f(out_flat, in_flats) for each output element with the flat input offsets of its
// window's real elements, in row-major window order.
template <typename F>
void for_windows(const PoolCase& p, F f) {
  const Geometry g = geometry(p);
  const int64_t n = p.x[0], h = p.x[1], w = p.x[2], c = p.x[3];
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < g.oh; ++i)
      for (int64_t j = 0; j < g.ow; ++j)
        for (int64_t ch = 0; ch < c; ++ch) {
          std::vector<int64_t> in;
          for (int64_t a = 0; a < p.k[0]; ++a)
            for (int64_t bb = 0; bb < p.k[1]; ++bb) {
              const int64_t r = i * p.s[0] + a - g.pt, col = j * p.s[1] + bb - g.pl;
              if (r >= 0 && r < h && col >= 0 && col < w) in.push_back(((b * h + r) * w + col) * c + ch);
            }
          f(((b * g.oh + i) * g.ow + j) * c + ch, in);
        }
}

Shape out_shape(const PoolCase& p) {
  const Geometry g = geometry(p);
  return {p.x[0], g.oh, g.ow, p.x[3]};
}

// The first (strictly greatest so far) element of a window.
int64_t first_max(const std::vector<double>& x, const std::vector<int64_t>& window) {
  int64_t best = window[0];
  for (int64_t at : window)
    if (x[static_cast<size_t>(at)] > x[static_cast<size_t>(best)]) best = at;
  return best;
}

// Integers in [0, 4): many ties, which the first-maximum rule decides.
Tensor tied(const Shape& s, DType dt, uint32_t seed) { return make(values(random(s, DType::Int64, 0, 4, seed)), s, dt); }

OP_REFERENCE_CASE(max_pool2d_ref, "max_pool2d") {
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : kPoolCases)
      for (bool ties : {false, true}) {
        SCOPED_TRACE(label(p) + " " + dtype_name(dt) + (ties ? " ties" : ""));
        Tensor x = ties ? tied(p.x, dt, 3) : random(p.x, dt, -5, 5, 3);
        std::vector<double> xv = values(x), want(static_cast<size_t>(out_shape(p).num_elements()));
        for_windows(p, [&](int64_t o, const std::vector<int64_t>& in) {
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t at : in) m = std::max(m, xv[static_cast<size_t>(at)]);
          want[static_cast<size_t>(o)] = m;
        });
        EXPECT_TRUE(tensor_near(max_pool2d(x, p.k, p.s, p.padding), out_shape(p), dt, want));
      }
  // A NaN makes its windows NaN; -inf windows stay -inf.
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Tensor x = f64({1, nan, 2, 3, -inf, -inf, -inf, -inf}, {1, 2, 4, 1});
  EXPECT_TRUE(tensor_near(max_pool2d(x, {2, 2}, {2, 2}), {1, 1, 2, 1}, DType::Float64, {nan, 3}));
  EXPECT_TRUE(tensor_near(max_pool2d(f64({-inf, -inf}, {1, 1, 2, 1}), {1, 2}, {1, 1}), {1, 1, 1, 1}, DType::Float64, {-inf}));
}

OP_REFERENCE_CASE(avg_pool2d_ref, "avg_pool2d") {
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : kPoolCases) {
      SCOPED_TRACE(label(p) + " " + dtype_name(dt));
      Tensor x = random(p.x, dt, -5, 5, 4);
      std::vector<double> xv = values(x), want(static_cast<size_t>(out_shape(p).num_elements()));
      for_windows(p, [&](int64_t o, const std::vector<int64_t>& in) {
        double s = 0;
        for (int64_t at : in) s += xv[static_cast<size_t>(at)];
        want[static_cast<size_t>(o)] = s / static_cast<double>(in.size());  // real elements only
      });
      EXPECT_TRUE(tensor_near(avg_pool2d(x, p.k, p.s, p.padding), out_shape(p), dt, want, 4 * rtol_for(dt), 4 * atol_for(dt)));
    }
  // Same padding counts only the real elements: a corner window of 2x2 ones averages to 1.
  EXPECT_TRUE(tensor_near(avg_pool2d(ones({1, 3, 3, 1}), {3, 3}, {1, 1}, "same"), {1, 3, 3, 1}, DType::Float32,
                          std::vector<double>(9, 1.0)));
}

OP_REFERENCE_CASE(max_pool2d_grad_ref, "max_pool2d_grad", "max_pool2d_grad_grad") {
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : kPoolCases)
      for (bool ties : {false, true}) {
        SCOPED_TRACE(label(p) + " " + dtype_name(dt) + (ties ? " ties" : ""));
        Tensor x = ties ? tied(p.x, dt, 5) : random(p.x, dt, -5, 5, 5);
        Tensor y = max_pool2d(x, p.k, p.s, p.padding);
        Tensor dy = random(out_shape(p), dt, -2, 2, 6), g = random(p.x, dt, -2, 2, 7);
        std::vector<double> xv = values(x), dyv = values(dy), gv = values(g);
        std::vector<double> dx(xv.size(), 0.0), gg(static_cast<size_t>(out_shape(p).num_elements()));
        for_windows(p, [&](int64_t o, const std::vector<int64_t>& in) {
          const int64_t at = first_max(xv, in);
          dx[static_cast<size_t>(at)] += dyv[static_cast<size_t>(o)];
          gg[static_cast<size_t>(o)] = gv[static_cast<size_t>(at)];
        });
        EXPECT_TRUE(tensor_near(max_pool2d_grad(x, y, dy, p.k, p.s, p.padding), p.x, dt, dx, 4 * rtol_for(dt), 4 * atol_for(dt)));
        EXPECT_TRUE(tensor_near(max_pool2d_grad_grad(x, y, g, p.k, p.s, p.padding), out_shape(p), dt, gg));
      }
  // Ties go to the first maximum in row-major window order, as TF; a NaN takes the gradient.
  Tensor x = f64({1, 2, 2, 0}, {1, 2, 2, 1});
  EXPECT_TRUE(tensor_near(max_pool2d_grad(x, max_pool2d(x, {2, 2}, {2, 2}), f64({5}, {1, 1, 1, 1}), {2, 2}, {2, 2}),
                          {1, 2, 2, 1}, DType::Float64, {0, 5, 0, 0}));
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Tensor xn = f64({1, 7, nan, nan}, {1, 2, 2, 1});
  EXPECT_TRUE(tensor_near(max_pool2d_grad(xn, max_pool2d(xn, {2, 2}, {2, 2}), f64({5}, {1, 1, 1, 1}), {2, 2}, {2, 2}),
                          {1, 2, 2, 1}, DType::Float64, {0, 0, 5, 0}));
  // An all -inf window sends its gradient to its first element.
  Tensor xi = f64({-inf, -inf, -inf, -inf}, {1, 2, 2, 1});
  EXPECT_TRUE(tensor_near(max_pool2d_grad(xi, max_pool2d(xi, {2, 2}, {1, 1}, "same"), f64({1, 2, 3, 4}, {1, 2, 2, 1}), {2, 2},
                                          {1, 1}, "same"),
                          {1, 2, 2, 1}, DType::Float64, {1, 2, 3, 4}));
}

OP_REFERENCE_CASE(avg_pool2d_grad_ref, "avg_pool2d_grad") {
  for (DType dt : {DType::Float32, DType::Float64})
    for (const PoolCase& p : kPoolCases) {
      SCOPED_TRACE(label(p) + " " + dtype_name(dt));
      Tensor dy = random(out_shape(p), dt, -2, 2, 8);
      std::vector<double> dyv = values(dy), dx(static_cast<size_t>(p.x.num_elements()), 0.0);
      for_windows(p, [&](int64_t o, const std::vector<int64_t>& in) {
        for (int64_t at : in) dx[static_cast<size_t>(at)] += dyv[static_cast<size_t>(o)] / static_cast<double>(in.size());
      });
      EXPECT_TRUE(tensor_near(avg_pool2d_grad(p.x, dy, p.k, p.s, p.padding), p.x, dt, dx, 4 * rtol_for(dt), 4 * atol_for(dt)));
    }
}

OP_REFERENCE_CASE(dropout_ref, "dropout") {
  for (DType dt : {DType::Float32, DType::Float64})
    for (double rate : {0.0, 0.25, 0.5, 0.9}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " rate " + std::to_string(rate));
      Tensor x = random({4, 5}, dt, -3, 3, 9), u = random({4, 5}, dt, 0, 1, 10);
      std::vector<double> xv = values(x), uv = values(u), want;
      for (size_t i = 0; i < xv.size(); ++i)
        want.push_back(uv[i] >= as_dtype(rate, dt) ? as_dtype(xv[i] / as_dtype(1 - rate, dt), dt) : 0.0);
      EXPECT_TRUE(tensor_near(dropout_with_uniform(x, u, rate), {4, 5}, dt, want, rtol_for(dt), atol_for(dt)));
    }
  // u exactly at the rate is kept (u >= rate, as tf.nn.dropout).
  EXPECT_TRUE(tensor_near(dropout_with_uniform(f64({1, 1}, {2}), f64({0.5, 0.4999}, {2}), 0.5), {2}, DType::Float64, {2, 0}));
}

// ---- kiln::dropout: statistics, scaling, gradient, inference ----

TEST(Dropout, DropsTheExpectedFractionAndScalesTheRest) {
  for (DType dt : {DType::Float32, DType::Float64})
    for (double rate : {0.1, 0.3, 0.5, 0.8}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " rate " + std::to_string(rate));
      Generator gen(42);
      Tensor x = ones({200, 100}, dt);
      std::vector<double> y = values(dropout(x, rate, true, &gen));
      const double kept_value = as_dtype(1.0 / as_dtype(1 - rate, dt), dt);
      int64_t dropped = 0;
      for (double v : y) {
        if (v == 0) ++dropped;
        else EXPECT_EQ(v, kept_value);
      }
      // 20000 Bernoulli(rate) draws: the fraction is within 5 standard deviations.
      const double sd = std::sqrt(rate * (1 - rate) / 20000.0);
      EXPECT_NEAR(static_cast<double>(dropped) / 20000.0, rate, 5 * sd);
      // The expected value is kept: mean(y) ~ 1.
      double sum = 0;
      for (double v : y) sum += v;
      EXPECT_NEAR(sum / 20000.0, 1.0, 5 * sd / (1 - rate));
    }
}

TEST(Dropout, SeededGeneratorsRepeatAndEachCallDrawsANewMask) {
  Generator a(7), b(7);
  Tensor x = random({50, 40}, DType::Float32, 1, 2, 1);
  std::vector<double> first = values(dropout(x, 0.5, true, &a));
  EXPECT_EQ(first, values(dropout(x, 0.5, true, &b)));
  EXPECT_NE(first, values(dropout(x, 0.5, true, &a)));
}

TEST(Dropout, GradientIsTheMaskOverOneMinusRate) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator gen(3);
    Tensor x = random({30, 20}, dt, 1, 2, 2);  // nonzero, so y == 0 exactly where dropped
    GradientTape tape;
    tape.watch(x);
    Tensor y = dropout(x, 0.4, true, &gen);
    Tensor w = random({30, 20}, dt, -1, 1, 3);
    Tensor g = tape.gradient(reduce_sum(y * w), x);
    std::vector<double> yv = values(y), wv = values(w), want;
    for (size_t i = 0; i < yv.size(); ++i) want.push_back(yv[i] != 0 ? as_dtype(wv[i] / as_dtype(0.6, dt), dt) : 0.0);
    EXPECT_TRUE(tensor_near(g, {30, 20}, dt, want, rtol_for(dt), atol_for(dt))) << dtype_name(dt);
  }
}

TEST(Dropout, InferenceAndRateZeroReturnTheInputItself) {
  Tensor x = random({3, 4}, DType::Float32, -1, 1, 4);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  // Nothing is drawn from the generator then.
  Generator used(9), fresh(9);
  dropout(x, 0.5, false, &used);
  EXPECT_EQ(used.next_seed(), fresh.next_seed());
}

// ---- Errors ----

TEST(OpErrors, PoolingShapesDtypesAndOptions) {
  Tensor x = zeros({2, 6, 6, 3});
  EXPECT_TRUE(has(error_of([] { max_pool2d(zeros({28, 28, 1}), {2, 2}, {2, 2}); }),
                  "max_pool2d: x must be 4-D [batch, height, width, channels], got float32[28,28,1]"));
  EXPECT_TRUE(has(error_of([] { avg_pool2d(zeros({1, 4, 4, 1}, DType::Int32), {2, 2}, {2, 2}); }),
                  "avg_pool2d: x must be float32 or float64, got int32[1,4,4,1]"));
  EXPECT_TRUE(has(error_of([&] { max_pool2d(x, {0, 2}, {2, 2}); }), "max_pool2d: ksize must be at least 1, got [0,2]"));
  EXPECT_TRUE(has(error_of([&] { avg_pool2d(x, {2, 2}, {1, -1}); }), "avg_pool2d: strides must be at least 1, got [1,-1]"));
  EXPECT_TRUE(has(error_of([&] { max_pool2d(x, {2, 2}, {2, 2}, "full"); }),
                  "max_pool2d: unknown padding 'full' (use \"valid\" or \"same\")"));
  EXPECT_TRUE(has(error_of([&] { max_pool2d(x, {7, 2}, {1, 1}); }),
                  "max_pool2d: the 7x2 window is larger than the 6x6 (height x width) input [2,6,6,3] with valid padding"));
  EXPECT_EQ(max_pool2d(x, {7, 2}, {1, 1}, "same").shape(), Shape({2, 6, 6, 3}));  // same padding allows it
  Tensor y = max_pool2d(x, {2, 2}, {2, 2});
  EXPECT_TRUE(has(error_of([&] { max_pool2d_grad(x, y, zeros({2, 3, 3, 2}), {2, 2}, {2, 2}); }),
                  "max_pool2d_grad: dy is float32[2,3,3,2], expected float32[2,3,3,3]"));
  EXPECT_TRUE(has(error_of([&] { max_pool2d_grad(x, zeros({2, 2, 2, 3}), y, {2, 2}, {2, 2}); }),
                  "max_pool2d_grad: y is float32[2,2,2,3], expected float32[2,3,3,3]"));
  EXPECT_TRUE(has(error_of([&] { max_pool2d_grad_grad(x, y, y, {2, 2}, {2, 2}); }),
                  "max_pool2d_grad_grad: g is float32[2,3,3,3], expected float32[2,6,6,3]"));
  EXPECT_TRUE(has(error_of([&] { avg_pool2d_grad({2, 6}, y, {2, 2}, {2, 2}); }),
                  "avg_pool2d_grad: input_shape must be 4-D [batch, height, width, channels], got [2,6]"));
  EXPECT_TRUE(has(error_of([&] { avg_pool2d_grad({2, 6, 6, 3}, zeros({2, 2, 2, 3}), {2, 2}, {2, 2}); }),
                  "avg_pool2d_grad: dy is float32[2,2,2,3], expected float32[2,3,3,3]"));
}

TEST(OpErrors, DropoutRateAndDtype) {
  Tensor x = zeros({4});
  for (double rate : {-0.1, 1.0, 1.5, std::numeric_limits<double>::quiet_NaN()})
    EXPECT_TRUE(has(error_of([&] { dropout(x, rate, true); }), "dropout: rate must be in [0, 1), got "));
  EXPECT_TRUE(has(error_of([&] { dropout(x, 1.0, false); }), "dropout: rate must be in [0, 1), got 1"));
  EXPECT_TRUE(has(error_of([] { dropout(zeros({4}, DType::Int64), 0.5, true); }),
                  "dropout: x must be float32 or float64, got int64[4]"));
  EXPECT_TRUE(has(error_of([&] { dropout_with_uniform(x, zeros({5}), 0.5); }),
                  "dropout: the uniform noise u is float32[5], expected float32[4]"));
  EXPECT_TRUE(has(error_of([&] { dropout_with_uniform(x, x, 1.0); }), "dropout: rate must be in [0, 1), got 1"));
}

}  // namespace
}  // namespace kiln::test
