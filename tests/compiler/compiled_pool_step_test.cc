// Pooling and dropout under kiln::function: a small pooled classifier's training step
// (max_pool2d and avg_pool2d -> dense -> softmax cross-entropy -> Adam) compiled against eager
// over three steps, and dropout drawing a fresh mask on every compiled call.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kiln.h"

namespace {
using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::Variable;

Tensor uniform_tensor(const Shape& s, double lo, double hi, uint64_t seed) {
  kiln::Generator gen(seed);
  return kiln::random_uniform(s, lo, hi, DType::Float32, &gen);
}

void expect_close(const Tensor& got, const Tensor& want, double rel = 1e-5) {
  ASSERT_EQ(got.shape(), want.shape());
  std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], rel * std::max(1.0, std::fabs(b[i]))) << "element " << i;
}

// x [8,6,6,2] -> max_pool2d 2x2 same -> avg_pool2d 3x3 stride 1 same -> [8,18] -> dense 4.
struct PooledClassifier {
  Variable w, b;
  kiln::optim::Adam opt{{.learning_rate = 0.05}};
  PooledClassifier() : w(uniform_tensor({18, 4}, -0.5, 0.5, 1), true, "w"), b(kiln::zeros({4}), true, "b") {}
  Tensor step(const Tensor& x, const Tensor& labels) {
    kiln::GradientTape tape;
    Tensor h = kiln::avg_pool2d(kiln::max_pool2d(x, {2, 2}, {2, 2}, "same"), {3, 3}, {1, 1}, "same");
    Tensor logits = kiln::matmul(kiln::reshape(h, {8, 18}), w) + b;
    Tensor loss = kiln::reduce_mean(kiln::sparse_softmax_cross_entropy_with_logits(labels, logits));
    std::vector<Variable> vars = {w, b};
    opt.apply_gradients(tape.gradient(loss, vars), vars);
    return loss;
  }
};

TEST(CompiledPooling, ThreeTrainingStepsMatchEager) {
  PooledClassifier eager, traced;
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return traced.step(x, y); }, {.name = "pool_step"});
  for (uint64_t s = 0; s < 3; ++s) {
    Tensor x = uniform_tensor({8, 5, 6, 2}, -2, 2, 10 + s);
    Tensor y = kiln::cast(uniform_tensor({8}, 0, 4, 20 + s), DType::Int32);
    Tensor want = eager.step(x, y);
    expect_close(step(x, y), want);
    expect_close(traced.w, eager.w);
    expect_close(traced.b, eager.b);
  }
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  EXPECT_EQ(step.trace_count(), 1) << step.explain();
  // The step trained: the loss went down on a fixed batch.
  Tensor x = uniform_tensor({8, 5, 6, 2}, -2, 2, 10), y = kiln::cast(uniform_tensor({8}, 0, 4, 20), DType::Int32);
  const float first = step(x, y).item<float>();
  for (int k = 0; k < 20; ++k) step(x, y);
  EXPECT_LT(step(x, y).item<float>(), first);
}

TEST(CompiledDropout, EachCallDrawsANewMaskAsEagerCallsWould) {
  kiln::Generator gen(5);
  auto f = kiln::function([&](const Tensor& x) { return kiln::dropout(x * 2.0, 0.5, true, &gen); }, {.name = "drop"});
  Tensor x = uniform_tensor({16, 16}, 1, 2, 3);
  Tensor a = f(x), b = f(x);
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
  kiln::Generator replay(5);
  replay.next_seed();  // the trace drew the first seed; each call draws the next, as eager calls would
  expect_close(a, kiln::dropout(x * 2.0, 0.5, true, &replay));
  expect_close(b, kiln::dropout(x * 2.0, 0.5, true, &replay));
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  int differ = 0;
  for (size_t i = 0; i < va.size(); ++i) differ += (va[i] == 0) != (vb[i] == 0);
  EXPECT_GT(differ, 50) << "two compiled calls dropped the same elements";
}

TEST(CompiledDropout, InferenceIsBakedInAtTraceTime) {
  bool training = false;
  auto f = kiln::function([&](const Tensor& x) { return kiln::dropout(x, 0.5, training); }, {.name = "drop_eval"});
  Tensor x = uniform_tensor({4, 4}, 1, 2, 4);
  expect_close(f(x), x);
  training = true;  // a host value: the traced graph keeps the phase it saw
  expect_close(f(x), x);
}
}  // namespace
