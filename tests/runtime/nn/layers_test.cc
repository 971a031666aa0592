// nn::Dense on inputs of rank > 2 (Keras applies it to the last axis): values against a loop over
// the rows, shapes, lazy building from the last dim, errors, and float64 gradients against central
// differences. (Under kiln::function with a -1 dim: CompiledDynamic in dynamic_dims_test.cc.)
#include "kiln/nn/layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/ops.h"
#include "tests/error_of.h"

namespace kiln::nn {
namespace {
using kiln::test::error_of;
using kiln::test::has;

// Deterministic values in [-1, 1) of `shape`, float64.
Tensor values_of(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return random_uniform(shape, -1.0, 1.0, DType::Float64, &gen);
}

// y[r, :] = tanh(x[r, :] @ kernel + bias) for each row r of x's leading dims, in plain loops.
std::vector<double> dense_by_rows(const Tensor& x, const Tensor& kernel, const Tensor& bias) {
  const int64_t in = kernel.dim(0), units = kernel.dim(1), rows = x.num_elements() / in;
  const std::vector<double> xv = x.to_vector<double>(), k = kernel.to_vector<double>(), b = bias.to_vector<double>();
  std::vector<double> y(static_cast<size_t>(rows * units));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t u = 0; u < units; ++u) {
      double s = b[static_cast<size_t>(u)];
      for (int64_t i = 0; i < in; ++i) s += xv[static_cast<size_t>(r * in + i)] * k[static_cast<size_t>(i * units + u)];
      y[static_cast<size_t>(r * units + u)] = std::tanh(s);
    }
  return y;
}

TEST(NnDense, HigherRankInputIsContractedAlongItsLastAxis) {
  for (const Shape& shape : {Shape{2, 5, 4}, Shape{3, 2, 2, 4}, Shape{0, 5, 4}}) {
    Dense dense(3, {.activation = activations::tanh, .bias_initializer = initializers::constant(0.25),
                    .dtype = DType::Float64});
    Tensor x = values_of(shape, 1);
    Tensor y = dense(x);  // builds the layer from the last dim
    std::vector<int64_t> want_shape = shape.vec();
    want_shape.back() = 3;
    EXPECT_EQ(y.shape(), Shape(want_shape)) << shape.str();
    EXPECT_EQ(dense.kernel().shape(), (Shape{4, 3}));
    const std::vector<double> got = y.to_vector<double>(), want = dense_by_rows(x, dense.kernel(), dense.bias());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << shape.str() << " at " << i;
  }
}

TEST(NnDense, RankBelowTwoOrOtherFeaturesAreErrorsNamingTheLayer) {
  Dense dense(3, {.input_dim = 4}, "seq_dense");
  EXPECT_TRUE(has(error_of([&] { dense(kiln::ones({4})); }),
                  "dense 'seq_dense': expected a rank-2 (or higher) input [batch, ..., features], got float32[4]"));
  EXPECT_TRUE(has(error_of([&] { dense(kiln::ones({2, 5, 6})); }),
                  "dense 'seq_dense': input float32[2,5,6] has 6 features, but the layer was built for 4"));
  EXPECT_EQ(dense(kiln::ones({2, 5, 4})).shape(), (Shape{2, 5, 3}));
}

// d/d(x, kernel, bias) of sum(w * dense(x)) for a [2, 3, 4] input, against central differences.
TEST(NnDense, HigherRankGradientsMatchCentralDifferences) {
  Dense dense(3, {.activation = activations::tanh, .bias_initializer = initializers::constant(0.1),
                  .dtype = DType::Float64});
  Tensor x0 = values_of({2, 3, 4}, 2), w = values_of({2, 3, 3}, 3);
  dense(x0);
  Variable x(x0);
  const Variable kernel = dense.kernel(), bias = dense.bias();
  auto loss = [&] { return reduce_sum(w * dense(x)).item<double>(); };
  GradientTape tape;
  tape.watch({x});
  Tensor l = reduce_sum(w * dense(x));
  const std::vector<Tensor> grads = tape.gradient(l, {x, kernel, bias});
  const std::vector<Variable> wrt = {x, kernel, bias};
  const char* names[] = {"x", "kernel", "bias"};
  for (size_t k = 0; k < wrt.size(); ++k) {
    const std::vector<double> g = grads[k].to_vector<double>();
    std::vector<double> v = wrt[k].to_vector<double>();
    ASSERT_EQ(grads[k].shape(), wrt[k].shape()) << names[k];
    for (size_t i = 0; i < v.size(); ++i) {
      const double eps = 1e-6, saved = v[i];
      v[i] = saved + eps;
      wrt[k].assign(Tensor::from_vector(v, wrt[k].shape()));
      const double up = loss();
      v[i] = saved - eps;
      wrt[k].assign(Tensor::from_vector(v, wrt[k].shape()));
      const double down = loss();
      v[i] = saved;
      wrt[k].assign(Tensor::from_vector(v, wrt[k].shape()));
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(g[i], numeric, 1e-7 * (1 + std::fabs(numeric))) << names[k] << " at " << i;
    }
  }
}

}  // namespace
}  // namespace kiln::nn
