// Tests of kiln::optim: SGD (plain, momentum, Nesterov) and Adam against hand-computed steps,
// argument errors, and a small end-to-end fit with GradientTape.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/error_of.h"
#include "kiln/autodiff/gradient_tape.h"
#include "kiln/metrics/accuracy.h"
#include "kiln/nn/layers.h"
#include "kiln/ops.h"
#include "kiln/optim/adam.h"
#include "kiln/optim/sgd.h"

namespace {
using kiln::DType;
using kiln::Tensor;
using kiln::Variable;
using kiln::optim::Adam;
using kiln::optim::SGD;

using kiln::test::error_of;

Tensor f64(std::vector<double> v) { return Tensor::from_vector(v); }

void expect_near(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// The same two gradients for every test: g1 = [0.5, -1], g2 = [1, 0.25], from var = [1, 2].
const std::vector<double> kG1{0.5, -1.0}, kG2{1.0, 0.25};

TEST(OptimSGD, PlainStepsSubtractLearningRateTimesGradient) {
  SGD opt({.learning_rate = 0.1});
  Variable w(f64({1.0, 2.0}), true, "w");
  opt.apply_gradients({f64(kG1)}, {w});
  expect_near(w, {0.95, 2.1});  // 1 - 0.1*0.5, 2 + 0.1*1
  opt.apply_gradients({f64(kG2)}, {w});
  expect_near(w, {0.85, 2.075});
  EXPECT_EQ(opt.iterations(), 2);
}

TEST(OptimSGD, MomentumStepsFollowKeras) {
  SGD opt({.learning_rate = 0.1, .momentum = 0.9});
  Variable w(f64({1.0, 2.0}), true, "w");
  // v1 = -0.1*g1 = [-0.05, 0.1]; w = [0.95, 2.1]
  opt.apply_gradients({f64(kG1)}, {w});
  expect_near(w, {0.95, 2.1});
  // v2 = 0.9*v1 - 0.1*g2 = [-0.145, 0.065]; w = [0.805, 2.165]
  opt.apply_gradients({f64(kG2)}, {w});
  expect_near(w, {0.805, 2.165});
}

TEST(OptimSGD, NesterovStepsFollowKeras) {
  SGD opt({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  Variable w(f64({1.0, 2.0}), true, "w");
  // v1 = [-0.05, 0.1]; w += 0.9*v1 - 0.1*g1 = [-0.095, 0.19] -> [0.905, 2.19]
  opt.apply_gradients({f64(kG1)}, {w});
  expect_near(w, {0.905, 2.19});
  // v2 = [-0.145, 0.065]; w += 0.9*v2 - 0.1*g2 = [-0.2305, 0.0335] -> [0.6745, 2.2235]
  opt.apply_gradients({f64(kG2)}, {w});
  expect_near(w, {0.6745, 2.2235});
}

TEST(OptimSGD, Float32AndLearningRateChanges) {
  SGD opt({.learning_rate = 0.5});
  Variable w(Tensor::from_vector<float>({1.0f}), true, "w");
  opt.apply_gradients({Tensor::from_vector<float>({1.0f})}, {w});
  EXPECT_FLOAT_EQ(w.to_vector<float>()[0], 0.5f);
  opt.set_learning_rate(0.25);
  EXPECT_DOUBLE_EQ(opt.learning_rate(), 0.25);
  opt.apply_gradients({Tensor::from_vector<float>({1.0f})}, {w});
  EXPECT_FLOAT_EQ(w.to_vector<float>()[0], 0.25f);
  EXPECT_EQ(w.dtype(), DType::Float32);
}

TEST(OptimSGD, RejectsMomentumOutsideUnitInterval) {
  EXPECT_NE(error_of([] { SGD({.momentum = 1.5}); }).find("momentum"), std::string::npos);
}

TEST(OptimAdam, TwoStepsMatchHandComputationFloat64) {
  Adam opt({.learning_rate = 0.1});
  Variable w(f64({1.0, 2.0}), true, "w");
  // t=1: m = 0.1*g1 = [0.05,-0.1], v = 0.001*g1^2 = [2.5e-4, 1e-3],
  //      lr_t = 0.1*sqrt(1-0.999)/(1-0.9) = 0.0316227766..., w -= lr_t*m/(sqrt(v)+1e-7)
  opt.apply_gradients({f64(kG1)}, {w});
  expect_near(w, {0.9000006324515321, 2.099999683773234});
  // t=2: m = [0.145,-0.065], v = [1.24975e-3, 1.0615e-3], lr_t = 0.1*sqrt(1-0.999^2)/(1-0.9^2)
  opt.apply_gradients({f64(kG2)}, {w});
  expect_near(w, {0.8034827028905888, 2.1469463568003797});
  EXPECT_EQ(opt.iterations(), 2);
}

// The same steps written the textbook way, for several variables of both float dtypes.
TEST(OptimAdam, MatchesReferenceOverManyStepsAndDtypes) {
  const double lr = 0.01, b1 = 0.8, b2 = 0.99, eps = 1e-3;
  Adam opt({.learning_rate = lr, .beta_1 = b1, .beta_2 = b2, .epsilon = eps});
  Variable a(f64({0.3, -0.7, 1.1}), true, "a");
  Variable b(Tensor::from_vector<float>({2.0f}), true, "b");
  std::vector<double> ra{0.3, -0.7, 1.1}, rb{2.0}, ma(3), va(3), mb(1), vb(1);
  auto ref_step = [&](std::vector<double>& x, std::vector<double>& m, std::vector<double>& v,
                      const std::vector<double>& g, int t) {
    double lr_t = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    for (size_t i = 0; i < x.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      x[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
    }
  };
  for (int t = 1; t <= 5; ++t) {
    std::vector<double> ga{0.1 * t, -0.2, 0.05 * t * t}, gb{1.0 / t};
    opt.apply_gradients({f64(ga), Tensor::from_vector<float>({static_cast<float>(gb[0])})}, {a, b});
    ref_step(ra, ma, va, ga, t);
    ref_step(rb, mb, vb, gb, t);
  }
  expect_near(a, ra, 1e-12);
  expect_near(b, rb, 1e-5);
  EXPECT_EQ(b.dtype(), DType::Float32);
}

TEST(OptimOptimizer, GradientCountMustMatchVariables) {
  Adam opt;
  Variable a(f64({1.0}), true, "a"), b(f64({2.0}), true, "b");
  std::string msg = error_of([&] { opt.apply_gradients({f64({1.0})}, {a, b}); });
  EXPECT_NE(msg.find("1 gradients for 2 variables"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Adam"), std::string::npos) << msg;
  EXPECT_EQ(opt.iterations(), 0);
}

TEST(OptimOptimizer, GradientShapeOrDtypeMustMatchItsVariable) {
  SGD opt;
  Variable a(f64({1.0, 2.0}), true, "weights");
  std::string msg = error_of([&] { opt.apply_gradients({f64({1.0, 2.0, 3.0})}, {a}); });
  EXPECT_NE(msg.find("'weights'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float64[3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float64[2]"), std::string::npos) << msg;
  msg = error_of([&] { opt.apply_gradients({Tensor::from_vector<float>({1, 2})}, {a}); });
  EXPECT_NE(msg.find("float32[2]"), std::string::npos) << msg;
  expect_near(a, {1.0, 2.0});  // nothing was applied
}

TEST(OptimOptimizer, UndefinedGradientSkipsItsVariable) {
  SGD opt({.learning_rate = 1.0, .momentum = 0.5});
  Variable a(f64({1.0}), true, "a"), b(f64({2.0}), true, "b");
  opt.apply_gradients({Tensor(), f64({1.0})}, {a, b});
  expect_near(a, {1.0});
  expect_near(b, {1.0});
  EXPECT_EQ(opt.iterations(), 1);
  // ...but no gradient at all is an error naming the variables.
  std::string msg = error_of([&] { opt.apply_gradients({Tensor(), Tensor()}, {a, b}); });
  EXPECT_NE(msg.find("no gradient"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'a', 'b'"), std::string::npos) << msg;
}

TEST(OptimOptimizer, WorksWithTapeGradientsAndBuild) {
  Variable w(f64({3.0}), true, "w");
  Adam opt({.learning_rate = 0.5});
  opt.build({w});
  for (int i = 0; i < 200; ++i) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_sum(kiln::square(w - 1.0));  // minimum at w = 1
    opt.apply_gradients(tape.gradient(loss, std::vector<Variable>{w}), {w});
  }
  EXPECT_NEAR(w.to_vector<double>()[0], 1.0, 0.05);
  EXPECT_EQ(opt.iterations(), 200);
}

// A Dense layer on a linearly separable 2-D toy set: class 1 where x0 + 2*x1 > 0.5, no points
// within 0.2 of the boundary. Adam must drive the cross-entropy down and classify every point.
TEST(OptimEndToEnd, DenseWithAdamSeparatesAToySet) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> xs;
  std::vector<int32_t> ys;
  while (ys.size() < 64) {
    float x0 = u(rng), x1 = u(rng), s = x0 + 2 * x1 - 0.5f;
    if (std::abs(s) < 0.2f) continue;
    xs.insert(xs.end(), {x0, x1});
    ys.push_back(s > 0 ? 1 : 0);
  }
  Tensor x = Tensor::from_vector(xs, {64, 2}), y = Tensor::from_vector(ys);
  kiln::nn::Dense model(2, {.kernel_initializer = kiln::nn::initializers::glorot_uniform(3), .input_dim = 2});
  Adam opt({.learning_rate = 0.1});
  auto loss_fn = [&] { return kiln::reduce_mean(kiln::sparse_softmax_cross_entropy_with_logits(y, model(x))); };
  const double initial = loss_fn().item<double>();
  for (int step = 0; step < 150; ++step) {
    kiln::GradientTape tape;
    Tensor loss = loss_fn();
    std::vector<Variable> vars = model.trainable_variables();
    opt.apply_gradients(tape.gradient(loss, vars), vars);
  }
  const double final_loss = loss_fn().item<double>();
  EXPECT_LT(final_loss, 0.25 * initial) << "initial " << initial << ", final " << final_loss;
  EXPECT_LT(final_loss, 0.1);
  kiln::metrics::SparseCategoricalAccuracy acc;
  acc.update_state(y, model(x));
  EXPECT_GE(acc.result(), 0.98);
}

}  // namespace
