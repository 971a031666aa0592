// conv2d and its backprops: eager results against plain 7-loop references written here (valid
// and same padding, strides 1 and 2, odd sizes, 1x1 filters, N=1, C=1, several im2col chunks),
// float64 gradient checks (first and second order) of all three ops, and their error messages.
#include <cmath>

#include "tests/error_of.h"
#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

using In = const std::vector<Tensor>&;

struct ConvCase {
  int64_t n, h, w, c, kh, kw, f, sh, sw;
  bool same;
  std::string label() const {
    std::ostringstream s;
    s << "x [" << n << "," << h << "," << w << "," << c << "], filter [" << kh << "," << kw << "," << c << "," << f
      << "], strides [" << sh << "," << sw << "], " << (same ? "same" : "valid");
    return s.str();
  }
  std::array<int64_t, 2> strides() const { return {sh, sw}; }
  const char* padding() const { return same ? "same" : "valid"; }
  Shape x_shape() const { return {n, h, w, c}; }
  Shape filter_shape() const { return {kh, kw, c, f}; }
};

// TF's output size and leading padding of one spatial dim, written out independently of Kiln.
struct Dim {
  int64_t out, pad;
};
Dim tf_dim(int64_t in, int64_t k, int64_t s, bool same) {
  if (!same) return {static_cast<int64_t>(std::ceil(static_cast<double>(in - k + 1) / static_cast<double>(s))), 0};
  const int64_t out = static_cast<int64_t>(std::ceil(static_cast<double>(in) / static_cast<double>(s)));
  const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
  return {out, total / 2};
}

// Calls visit(x_index, filter_index, y_index) for every multiply-add of the convolution: the
// 7 loops (n, i, j, o, p, q, k), skipping taps that fall into the padding.
template <typename Visit>
void for_each_tap(const ConvCase& cc, Visit visit) {
  const Dim dh = tf_dim(cc.h, cc.kh, cc.sh, cc.same), dw = tf_dim(cc.w, cc.kw, cc.sw, cc.same);
  for (int64_t b = 0; b < cc.n; ++b)
    for (int64_t i = 0; i < dh.out; ++i)
      for (int64_t j = 0; j < dw.out; ++j)
        for (int64_t o = 0; o < cc.f; ++o)
          for (int64_t p = 0; p < cc.kh; ++p)
            for (int64_t q = 0; q < cc.kw; ++q)
              for (int64_t k = 0; k < cc.c; ++k) {
                const int64_t y = i * cc.sh + p - dh.pad, x = j * cc.sw + q - dw.pad;
                if (y < 0 || y >= cc.h || x < 0 || x >= cc.w) continue;
                visit(((b * cc.h + y) * cc.w + x) * cc.c + k, ((p * cc.kw + q) * cc.c + k) * cc.f + o,
                      ((b * dh.out + i) * dw.out + j) * cc.f + o);
              }
}

Shape out_shape(const ConvCase& cc) {
  return {cc.n, tf_dim(cc.h, cc.kh, cc.sh, cc.same).out, tf_dim(cc.w, cc.kw, cc.sw, cc.same).out, cc.f};
}

void check_conv_case(const ConvCase& cc, DType dt, double tol) {
  SCOPED_TRACE(cc.label() + " " + dtype_name(dt));
  const Shape ys = out_shape(cc);
  Tensor x = random(cc.x_shape(), dt, -1, 1, 11), f = random(cc.filter_shape(), dt, -1, 1, 12);
  Tensor dy = random(ys, dt, -1, 1, 13);
  const std::vector<double> xv = values(x), fv = values(f), dyv = values(dy);
  std::vector<double> y(static_cast<size_t>(ys.num_elements()), 0.0), dx(xv.size(), 0.0), df(fv.size(), 0.0);
  for_each_tap(cc, [&](int64_t xi, int64_t fi, int64_t yi) {
    y[static_cast<size_t>(yi)] += xv[static_cast<size_t>(xi)] * fv[static_cast<size_t>(fi)];
    dx[static_cast<size_t>(xi)] += fv[static_cast<size_t>(fi)] * dyv[static_cast<size_t>(yi)];
    df[static_cast<size_t>(fi)] += xv[static_cast<size_t>(xi)] * dyv[static_cast<size_t>(yi)];
  });
  EXPECT_TRUE(tensor_near(conv2d(x, f, cc.strides(), cc.padding()), ys, dt, y, tol, tol)) << "conv2d";
  EXPECT_TRUE(tensor_near(conv2d_backprop_input(cc.x_shape(), f, dy, cc.strides(), cc.padding()), cc.x_shape(), dt, dx,
                          tol, tol))
      << "conv2d_backprop_input";
  EXPECT_TRUE(tensor_near(conv2d_backprop_filter(x, cc.filter_shape(), dy, cc.strides(), cc.padding()),
                          cc.filter_shape(), dt, df, tol, tol))
      << "conv2d_backprop_filter";
}

// {n, h, w, c, kh, kw, f, sh, sw, same}
const ConvCase kCases[] = {
    {2, 5, 6, 3, 3, 2, 4, 1, 1, false}, {2, 5, 6, 3, 3, 2, 4, 1, 1, true},   // odd sizes, both paddings
    {1, 7, 7, 2, 3, 3, 3, 2, 2, false}, {1, 7, 7, 2, 3, 3, 3, 2, 2, true},   // stride 2 (7 odd: uneven pad)
    {2, 6, 5, 1, 2, 3, 2, 2, 1, true},  {2, 6, 5, 1, 2, 3, 2, 2, 1, false},  // C=1, strides (2,1), even kernel
    {1, 8, 7, 2, 4, 4, 3, 3, 3, true},  {1, 8, 9, 2, 4, 4, 3, 3, 3, false},  // stride 3, 4x4 kernel
    {3, 4, 4, 5, 1, 1, 2, 1, 1, false}, {3, 4, 4, 5, 1, 1, 2, 1, 1, true},   // 1x1 filter (no im2col)
    {2, 5, 5, 3, 1, 1, 4, 2, 2, false}, {2, 5, 5, 3, 1, 1, 4, 2, 2, true},   // 1x1 filter, stride 2
    {1, 4, 5, 1, 2, 2, 1, 1, 1, false},                                      // N=1, C=1, F=1
    {2, 3, 3, 2, 3, 3, 4, 1, 1, false},                                      // filter = input: 1x1 output
    {1, 2, 3, 2, 5, 4, 2, 1, 1, true},                                       // filter larger than the input
    {1, 1, 1, 3, 3, 3, 2, 2, 2, true},                                       // one pixel
    {2, 6, 5, 2, 2, 3, 3, 1, 1, true},                                       // odd total padding in height
    {1, 7, 6, 2, 4, 3, 2, 1, 2, true},                                       // odd in both (3 and 1)
};

OP_REFERENCE_CASE(conv2d_against_loops, "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter") {
  for (const ConvCase& cc : kCases) {
    check_conv_case(cc, DType::Float32, 2e-6);
    check_conv_case(cc, DType::Float64, 1e-13);
  }
}

// Large images: one image's im2col matrix is more than the kernels' chunk (8 MB), so each image
// is its own chunk and the filter gradient sums over chunks; also the CNN's first layer shape.
OP_REFERENCE_CASE(conv2d_several_chunks, "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter") {
  check_conv_case({3, 64, 64, 32, 5, 5, 2, 1, 1, false}, DType::Float32, 1e-4);
  check_conv_case({2, 64, 64, 16, 5, 5, 2, 1, 1, true}, DType::Float64, 1e-12);
  // The filter gradient sums 4*24*24 = 2304 products per element in float32: on an AVX2 machine
  // (8-wide sums in another order than AVX-512's) one element was 1.7e-5 off the float64 sum.
  check_conv_case({4, 28, 28, 1, 5, 5, 20, 1, 1, false}, DType::Float32, 5e-5);
}

OP_REFERENCE_CASE(conv2d_empty_batch, "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter") {
  Tensor x = zeros({0, 5, 5, 2}), f = random({3, 3, 2, 4}, DType::Float32, -1, 1, 3);
  EXPECT_EQ(conv2d(x, f).shape(), (Shape{0, 3, 3, 4}));
  EXPECT_TRUE(tensor_near(conv2d_backprop_filter(x, f.shape(), zeros({0, 3, 3, 4})), f.shape(), DType::Float32,
                          std::vector<double>(72, 0.0)));
  EXPECT_EQ(conv2d_backprop_input(x.shape(), f, zeros({0, 3, 3, 4})).shape(), x.shape());
}

// ---- Gradients (float64 central differences, Hessian-vector products) ----

const ConvCase kGradCases[] = {
    {2, 4, 5, 2, 3, 2, 3, 1, 1, false},
    {1, 5, 4, 2, 3, 3, 2, 2, 2, true},
    {2, 5, 3, 1, 2, 2, 2, 2, 1, true},
};

GRAD_CHECK_CASE(conv2d_grad, "conv2d") {
  for (const ConvCase& cc : kGradCases) {
    SCOPED_TRACE(cc.label());
    check_gradients([cc](In in) { return conv2d(in[0], in[1], cc.strides(), cc.padding()); },
                    {rand64(cc.x_shape(), -1, 1, 21), rand64(cc.filter_shape(), -1, 1, 22)});
  }
}

GRAD_CHECK_CASE(conv2d_backprop_input_grad, "conv2d_backprop_input") {
  for (const ConvCase& cc : kGradCases) {
    SCOPED_TRACE(cc.label());
    check_gradients([cc](In in) { return conv2d_backprop_input(cc.x_shape(), in[0], in[1], cc.strides(), cc.padding()); },
                    {rand64(cc.filter_shape(), -1, 1, 23), rand64(out_shape(cc), -1, 1, 24)});
  }
}

GRAD_CHECK_CASE(conv2d_backprop_filter_grad, "conv2d_backprop_filter") {
  for (const ConvCase& cc : kGradCases) {
    SCOPED_TRACE(cc.label());
    check_gradients([cc](In in) { return conv2d_backprop_filter(in[0], cc.filter_shape(), in[1], cc.strides(), cc.padding()); },
                    {rand64(cc.x_shape(), -1, 1, 25), rand64(out_shape(cc), -1, 1, 26)});
  }
}

// A composite: a conv net's loss through relu, checked to second order.
GRAD_CHECK_CASE(conv2d_relu_chain_grad, "conv2d") {
  check_gradients(
      [](In in) { Tensor y = conv2d(in[0], in[1], {2, 2}, "same");
        return reduce_sum(relu(y) * y, {1, 2}); },
      {rand64({2, 4, 4, 2}, -1, 1, 31), rand64({3, 3, 2, 2}, -1, 1, 32)});
}

// ---- Errors ----

Tensor f32(const Shape& s) { return zeros(s, DType::Float32); }

TEST(ConvErrors, Conv2dNamesTheShapesAndValues) {
  EXPECT_EQ(error_of([] { conv2d(f32({1, 5, 5, 1}), f32({3, 3, 1, 2}), {1, 1}, "full"); }),
            "conv2d: padding must be \"valid\" or \"same\", got \"full\"");
  EXPECT_EQ(error_of([] { conv2d(f32({1, 5, 5, 1}), f32({3, 3, 1, 2}), {0, 1}); }),
            "conv2d: strides must be positive, got [0,1]");
  EXPECT_TRUE(has(error_of([] { conv2d(f32({1, 5, 5, 1}), f32({3, 3, 1, 2}), {1, -2}); }), "[1,-2]"));
  EXPECT_EQ(error_of([] { conv2d(f32({28, 28, 1}), f32({5, 5, 1, 20})); }),
            "conv2d: the input must be 4-D [batch, height, width, channels], got [28,28,1]");
  EXPECT_EQ(error_of([] { conv2d(f32({1, 28, 28, 1}), f32({5, 5, 20})); }),
            "conv2d: the filter must be 4-D [height, width, in_channels, out_channels], got [5,5,20]");
  EXPECT_EQ(error_of([] { conv2d(f32({1, 28, 28, 1}), f32({5, 5, 3, 20})); }),
            "conv2d: the filter's in_channels (3) differ from the input's channels (1): input is [1,28,28,1], "
            "filter is [5,5,3,20]");
  EXPECT_EQ(error_of([] { conv2d(f32({1, 28, 28, 1}), zeros({5, 5, 1, 20}, DType::Float64)); }),
            "conv2d: dtypes differ: input is float32, filter is float64");
  EXPECT_EQ(error_of([] { conv2d(zeros({1, 4, 4, 1}, DType::Int32), zeros({2, 2, 1, 1}, DType::Int32)); }),
            "conv2d: float32 or float64 operands only, got int32");
  EXPECT_EQ(error_of([] { conv2d(f32({1, 3, 8, 1}), f32({5, 5, 1, 2})); }),
            "conv2d: the filter [5,5] is larger than the input [3,8] with padding \"valid\": input is [1,3,8,1], "
            "filter is [5,5,1,2]");
  EXPECT_NO_THROW(conv2d(f32({1, 3, 8, 1}), f32({5, 5, 1, 2}), {1, 1}, "same"));  // same padding: fine
  EXPECT_TRUE(has(error_of([] { conv2d(f32({1, 3, 8, 1}), f32({0, 5, 1, 2}), {1, 1}, "same"); }), "[0,5,1,2]"));
  EXPECT_TRUE(has(error_of([] { conv2d(f32({1, 5, 5, 1}), Tensor()); }), "conv2d"));
}

TEST(ConvErrors, BackpropsNameTheShapes) {
  EXPECT_EQ(error_of([] { conv2d_backprop_input({1, 5, 5, 1}, f32({3, 3, 1, 2}), f32({1, 3, 3, 3})); }),
            "conv2d_backprop_input: dy is [1,3,3,3], expected [1,3,3,2] (conv2d's output for input [1,5,5,1], "
            "filter [3,3,1,2], strides [1,1], padding \"valid\")");
  EXPECT_TRUE(has(error_of([] { conv2d_backprop_input({5, 5, 1}, f32({3, 3, 1, 2}), f32({1, 3, 3, 2})); }),
                  "conv2d_backprop_input: the input must be 4-D [batch, height, width, channels], got [5,5,1]"));
  EXPECT_TRUE(has(error_of([] { conv2d_backprop_input({1, 5, 5, 1}, f32({3, 3, 1, 2}), f32({1, 3, 3, 2}), {1, 1}, "SAME"); }),
                  "conv2d_backprop_input: padding must be \"valid\" or \"same\", got \"SAME\""));
  EXPECT_EQ(error_of([] { conv2d_backprop_input({1, 5, 5, 1}, f32({3, 3, 1, 2}), zeros({1, 3, 3, 2}, DType::Float64)); }),
            "conv2d_backprop_input: dtypes differ: filter is float32, dy is float64");
  EXPECT_EQ(error_of([] { conv2d_backprop_filter(f32({1, 5, 5, 1}), {3, 3, 1, 2}, f32({1, 2, 2, 2}), {2, 2}, "same"); }),
            "conv2d_backprop_filter: dy is [1,2,2,2], expected [1,3,3,2] (conv2d's output for input [1,5,5,1], "
            "filter [3,3,1,2], strides [2,2], padding \"same\")");
  EXPECT_TRUE(has(error_of([] { conv2d_backprop_filter(f32({1, 5, 5, 1}), {3, 3, 2, 2}, f32({1, 3, 3, 2})); }),
                  "conv2d_backprop_filter: the filter's in_channels (2) differ from the input's channels (1)"));
  EXPECT_TRUE(has(error_of([] { conv2d_backprop_filter(f32({1, 5, 5, 1}), {3, 3, 1, 2}, f32({1, 3, 3, 2}), {1, 0}); }),
                  "conv2d_backprop_filter: strides must be positive, got [1,0]"));
}

}  // namespace
}  // namespace kiln::test
