// GradientTape semantics: persistence, what is watched, stop_recording, unconnected sources,
// accumulation, output gradients, custom_gradient (also under nested tapes), watched_variables.
#include <cmath>
#include <limits>

#include "tests/error_of.h"
#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

Tensor vec(std::vector<double> v) { return make(v, {static_cast<int64_t>(v.size())}); }
Tensor vec64(std::vector<double> v) { return f64(v, {static_cast<int64_t>(v.size())}); }

using kiln::test::error_of;

TEST(TapePersistence, NonPersistentTapeAllowsOneGradientCall) {
  Tensor x = vec({1, 2});
  GradientTape tape;
  tape.watch(x);
  Tensor y = reduce_sum(x * x);
  EXPECT_TRUE(tensor_near(tape.gradient(y, x), {2}, DType::Float32, {2, 4}));
  std::string msg = error_of([&] { tape.gradient(y, x); });
  EXPECT_NE(msg.find("GradientTape.gradient"), std::string::npos) << msg;
  EXPECT_NE(msg.find("persistent"), std::string::npos) << msg;
  EXPECT_FALSE(tape.persistent());
}

TEST(TapePersistence, PersistentTapeComputesManyGradientsAndKeepsRecording) {
  Tensor x = vec({1, 2, 3});
  GradientTape tape(/*persistent=*/true);
  tape.watch(x);
  Tensor y = x * x, z = y * x;
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(y), x), {3}, DType::Float32, {2, 4, 6}));
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(z), x), {3}, DType::Float32, {3, 12, 27}));
  // Ops after a gradient call are still recorded.
  Tensor w = z * x;
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(w), x), {3}, DType::Float32, {4, 32, 108}));
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(y), x), {3}, DType::Float32, {2, 4, 6}));
  EXPECT_TRUE(tape.persistent());
}

TEST(TapeWatch, ConstantsAreWatchedOnlyWhenAsked) {
  Tensor a = vec({3}), b = vec({5});
  GradientTape tape(true);
  tape.watch(a);
  Tensor y = a * b;
  std::vector<Tensor> g = tape.gradient(y, {a, b});
  EXPECT_TRUE(tensor_near(g[0], {1}, DType::Float32, {5}));
  EXPECT_FALSE(g[1].defined()) << "b was not watched";
  // Watched later, b is a source for ops recorded afterwards.
  tape.watch(b);
  EXPECT_TRUE(tensor_near(tape.gradient(a * b, b), {1}, DType::Float32, {3}));
}

TEST(TapeWatch, TrainableVariablesAreWatchedAutomatically) {
  Variable w(vec({2, -1}), true, "w");
  Variable frozen(vec({4, 4}), /*trainable=*/false, "frozen");
  Tensor x = vec({3, 5});
  GradientTape tape;
  Tensor loss = reduce_sum(w * x + frozen * x);
  std::vector<Tensor> g = tape.gradient(loss, {w, frozen, x});
  EXPECT_TRUE(tensor_near(g[0], {2}, DType::Float32, {3, 5}));
  EXPECT_FALSE(g[1].defined()) << "a non-trainable variable is not watched by default";
  EXPECT_FALSE(g[2].defined());
}

TEST(TapeWatch, NonTrainableVariableCanBeWatchedExplicitly) {
  Variable frozen(vec({4}), false);
  GradientTape tape;
  tape.watch(frozen);
  EXPECT_TRUE(tensor_near(tape.gradient(frozen * frozen, frozen), {1}, DType::Float32, {8}));
}

TEST(TapeWatch, WatchAccessedVariablesFalse) {
  Variable w(vec({2}), true, "w"), u(vec({3}), true, "u");
  GradientTape tape(/*persistent=*/true, /*watch_accessed_variables=*/false);
  tape.watch(u);
  Tensor y = w * u * u;
  EXPECT_FALSE(tape.gradient(y, w).defined()) << "w was read but not watched";
  EXPECT_TRUE(tensor_near(tape.gradient(y, u), {1}, DType::Float32, {12}));
  std::vector<Variable> watched = tape.watched_variables();
  ASSERT_EQ(watched.size(), 1u);
  EXPECT_TRUE(watched[0].is_same(u));
}

TEST(TapeWatch, WatchRejectsIntegerTensorsAndUndefinedOnes) {
  GradientTape tape;
  std::string msg = error_of([&] { tape.watch(make({1, 2}, {2}, DType::Int32)); });
  EXPECT_NE(msg.find("int32"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { tape.watch(Tensor()); }).find("undefined"), std::string::npos);
}

TEST(TapeWatch, WatchedVariablesInFirstUseOrder) {
  Variable a(vec({1}), true, "a"), b(vec({2}), true, "b"), c(vec({3}), true, "c"), unused(vec({4}), true, "unused");
  Variable frozen(vec({5}), false, "frozen");
  GradientTape tape;
  Tensor cb = c * b;
  Tensor ac = a * c;
  Tensor y = cb + ac + frozen;
  tape.watch(frozen);  // explicitly watched variables count too
  std::vector<Variable> watched = tape.watched_variables();
  ASSERT_EQ(watched.size(), 4u);
  EXPECT_EQ(watched[0].name(), "c");
  EXPECT_EQ(watched[1].name(), "b");
  EXPECT_EQ(watched[2].name(), "a");
  EXPECT_EQ(watched[3].name(), "frozen");
  (void)y;
}

TEST(TapeRecording, StopRecordingPausesAndResumes) {
  Tensor x = vec({3});
  GradientTape tape(true);
  tape.watch(x);
  Tensor y = x * x;
  Tensor z;
  {
    auto pause = tape.stop_recording();
    z = x * 10.0;  // not recorded: z is a constant for the tape
  }
  Tensor total = y + z;
  EXPECT_TRUE(tensor_near(tape.gradient(total, x), {1}, DType::Float32, {6}));
  EXPECT_FALSE(tape.gradient(z, x).defined());
  Tensor w = x * 4.0;  // recording resumed
  EXPECT_TRUE(tensor_near(tape.gradient(w, x), {1}, DType::Float32, {4}));
}

TEST(TapeRecording, OnlyOpsWhileTheTapeIsAliveAreRecorded) {
  Tensor x = vec({2});
  Tensor before = x * x;
  GradientTape tape;
  tape.watch(x);
  EXPECT_FALSE(tape.gradient(before, {x}, {}, UnconnectedGradients::None)[0].defined());
}

TEST(TapeUnconnected, NoneByDefaultZerosOnRequest) {
  Tensor x = vec64({1, 2}), u = f64({1, 2, 3, 4}, {2, 2});
  GradientTape tape(true);
  tape.watch({x, u});
  Tensor y = reduce_sum(x * x);
  EXPECT_FALSE(tape.gradient(y, u).defined());
  std::vector<Tensor> g = tape.gradient(y, {x, u}, {}, UnconnectedGradients::Zero);
  EXPECT_TRUE(tensor_near(g[0], {2}, DType::Float64, {2, 4}));
  EXPECT_TRUE(tensor_near(g[1], {2, 2}, DType::Float64, {0, 0, 0, 0}));
  // Through a non-differentiable op (argmax), the connection is cut too.
  Tensor idx = cast(argmax(u, 1), DType::Float64);
  EXPECT_FALSE(tape.gradient(reduce_sum(idx), u).defined());
  Tensor hot = one_hot(argmax(u, 1), 2, 1.0, 0.0, DType::Float64) * u;
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(hot), u), {2, 2}, DType::Float64, {0, 1, 0, 1}));
}

TEST(TapeAccumulation, TensorUsedTwiceSumsItsGradients) {
  Tensor x = vec64({-1, 0.5, 3});
  GradientTape tape(true);
  tape.watch(x);
  Tensor y = x * x + x;  // dy/dx = 2x + 1
  EXPECT_TRUE(tensor_near(tape.gradient(y, x), {3}, DType::Float64, {-1, 2, 7}));
  // A diamond: a = 2x, b = a*a + a, so db/dx = (2a + 1) * 2.
  Tensor a = x * 2.0;
  Tensor b = a * a + a;
  EXPECT_TRUE(tensor_near(tape.gradient(b, x), {3}, DType::Float64, {-6, 6, 26}));
  // The same source asked for twice.
  std::vector<Tensor> g = tape.gradient(reduce_sum(y), {x, x});
  EXPECT_TRUE(tensor_near(g[1], {3}, DType::Float64, {-1, 2, 7}));
  // A target that is its own source.
  EXPECT_TRUE(tensor_near(tape.gradient(x, x), {3}, DType::Float64, {1, 1, 1}));
}

TEST(TapeOutputGradient, SeedsTheBackwardPass) {
  Tensor x = vec64({1, 2});
  GradientTape tape(true);
  tape.watch(x);
  Tensor y = x * x * x;
  EXPECT_TRUE(tensor_near(tape.gradient(y, {x}, vec64({10, -1}))[0], {2}, DType::Float64, {30, -12}));
  std::string msg = error_of([&] { tape.gradient(y, {x}, vec64({1, 2, 3})); });
  EXPECT_NE(msg.find("output_gradient"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3]"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { tape.gradient(Tensor(), x); }).find("undefined"), std::string::npos);
  EXPECT_NE(error_of([&] { tape.gradient(y, Tensor()); }).find("undefined"), std::string::npos);
}

// ---- custom_gradient ----

// Identity forward, gradient clipped to [-limit, limit].
Tensor clip_gradient(const Tensor& x, double limit) {
  return custom_gradient({x}, [limit](const std::vector<Tensor>& in) {
    return std::pair{in[0], CustomGradFn([limit](const Tensor& dy) {
                       Tensor lim = Tensor::scalar(limit, dy.dtype());
                       return std::vector<Tensor>{minimum(maximum(dy, neg(lim)), lim)};
                     })};
  });
}

// log(1 + exp(x)) with the stable gradient sigmoid(x) (TF's custom_gradient example).
Tensor log1pexp(const Tensor& x) {
  return custom_gradient({x}, [](const std::vector<Tensor>& in) {
    Tensor x0 = in[0];
    Tensor y = log(1.0 + exp(x0));
    return std::pair{y, CustomGradFn([x0](const Tensor& dy) { return std::vector<Tensor>{dy * sigmoid(x0)}; })};
  });
}

TEST(TapeCustomGradient, ClippedGradientIdentity) {
  Tensor x = vec({1, -2, 3});
  GradientTape tape;
  tape.watch(x);
  Tensor y = clip_gradient(x, 0.5);
  EXPECT_TRUE(tensor_near(y, {3}, DType::Float32, {1, -2, 3})) << "forward is the identity";
  EXPECT_FALSE(y.is_same(x));
  Tensor loss = reduce_sum(y * vec({10, -10, 0.25}));
  EXPECT_TRUE(tensor_near(tape.gradient(loss, x), {3}, DType::Float32, {0.5, -0.5, 0.25}));
}

TEST(TapeCustomGradient, Log1pexpStableGradient) {
  Tensor x = vec({0, 100, -100, 2});
  {
    GradientTape tape;
    tape.watch(x);
    Tensor y = log1pexp(x);
    EXPECT_TRUE(tensor_near(y, {4}, DType::Float32, {std::log(2.0), std::numeric_limits<double>::infinity(), 0,
                                                      std::log1p(std::exp(2.0))}, 1e-6, 1e-6));
    EXPECT_TRUE(tensor_near(tape.gradient(y, x), {4}, DType::Float32, {0.5, 1, 0, 1 / (1 + std::exp(-2.0))}, 1e-6, 1e-7));
  }
  // Without it, exp(100) overflows float32 and the chain rule gives NaN: why the custom one exists.
  GradientTape tape;
  tape.watch(x);
  Tensor naive = log(1.0 + exp(x));
  EXPECT_TRUE(std::isnan(values(tape.gradient(naive, x))[1]));
}

TEST(TapeCustomGradient, ForwardIsNotRecordedAndInputsGetOnlyTheCustomGradient) {
  Tensor x = vec({2});
  GradientTape tape;
  tape.watch(x);
  Tensor y = custom_gradient({x}, [](const std::vector<Tensor>& in) {
    Tensor sq = in[0] * in[0];  // forward math: d/dx would be 2x = 4
    return std::pair{sq, CustomGradFn([](const Tensor& dy) { return std::vector<Tensor>{dy * 100.0}; })};
  });
  EXPECT_TRUE(tensor_near(tape.gradient(y, x), {1}, DType::Float32, {100}));
}

TEST(TapeCustomGradient, TwoInputsAndVariables) {
  Variable w(vec({3}), true, "w");
  Tensor x = vec({5});
  GradientTape tape;
  tape.watch(x);
  Tensor y = custom_gradient({w, x}, [](const std::vector<Tensor>& in) {
    Tensor a = in[0], b = in[1];
    return std::pair{a * b, CustomGradFn([b](const Tensor& dy) { return std::vector<Tensor>{dy * b, Tensor()}; })};
  });
  std::vector<Tensor> g = tape.gradient(y * 2.0, {w, x});
  EXPECT_TRUE(tensor_near(g[0], {1}, DType::Float32, {10}));
  EXPECT_FALSE(g[1].defined()) << "an undefined custom gradient means none";
}

TEST(TapeCustomGradient, UnderANestedTape) {
  // d2/dx2 log1pexp(x) = sigmoid(x) (1 - sigmoid(x)): the outer tape records the custom gradient's ops.
  Tensor x = vec64({0, 1.5, -2});
  GradientTape outer;
  outer.watch(x);
  Tensor g;
  {
    GradientTape inner;
    inner.watch(x);
    g = inner.gradient(log1pexp(x), x);
  }
  std::vector<double> want1, want2;
  for (double v : values(x)) {
    const double s = 1 / (1 + std::exp(-v));
    want1.push_back(s);
    want2.push_back(s * (1 - s));
  }
  EXPECT_TRUE(tensor_near(g, {3}, DType::Float64, want1, 1e-14));
  EXPECT_TRUE(tensor_near(outer.gradient(g, x), {3}, DType::Float64, want2, 1e-14));
}

TEST(TapeCustomGradient, WrongNumberOfGradientsOrNoOutputIsAnError) {
  Tensor x = vec({1});
  GradientTape tape(true);
  tape.watch(x);
  Tensor y = custom_gradient({x}, [](const std::vector<Tensor>& in) {
    return std::pair{in[0] * 2.0, CustomGradFn([](const Tensor& dy) { return std::vector<Tensor>{dy, dy}; })};
  });
  std::string msg = error_of([&] { tape.gradient(y, x); });
  EXPECT_NE(msg.find("custom_gradient"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 gradients for 1 inputs"), std::string::npos) << msg;
  msg = error_of([&] {
    custom_gradient({x}, [](const std::vector<Tensor>&) { return std::pair{Tensor(), CustomGradFn()}; });
  });
  EXPECT_NE(msg.find("custom_gradient"), std::string::npos) << msg;
  Tensor z = custom_gradient({x}, [](const std::vector<Tensor>& in) {
    return std::pair{in[0] * 2.0, CustomGradFn([](const Tensor&) { return std::vector<Tensor>{vec({1, 2})}; })};
  });
  msg = error_of([&] { tape.gradient(z, x); });
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1]"), std::string::npos) << msg;
}

// ---- Variables and the tape ----

// TF semantics: a variable read inside the tape is a snapshot, so assigning the variable before
// calling gradient does not change the gradient. Kiln's tape keeps a handle on the variable's
// storage instead, and assign updates it in place, so the gradient sees the new value (600, not
// 12). Disabled until the lead decides between snapshotting variables on record and copy-on-write
// in assign; see the op-test report. (It matters for a persistent tape whose second gradient is
// taken after an optimizer step.)
TEST(TapeVariables, GradientUsesTheValueAtRecordTime) {
  Variable w(vec64({2}), true, "w");
  Tensor x = vec64({3});
  GradientTape tape;
  Tensor y = w * w * x;  // recorded with w = 2: dy/dw = 2 w x = 12
  w.assign(vec64({100}));
  EXPECT_TRUE(tensor_near(tape.gradient(y, w), {1}, DType::Float64, {12}));
}

TEST(TapeVariables, GradientStepLowersALoss) {
  // One step of gradient descent through assign_sub on a quadratic.
  Variable w(f64({1, -2, 3}, {3}), true, "w");
  Tensor target = vec64({0.5, 0.5, 0.5});
  auto loss_of = [&] { return reduce_sum(square(w - target)); };
  double before = 0;
  Tensor grad;
  {
    GradientTape tape;
    Tensor loss = loss_of();
    before = loss.item<double>();
    grad = tape.gradient(loss, w);
  }
  assign_sub(w, grad * 0.25);
  EXPECT_TRUE(tensor_near(w, {3}, DType::Float64, {0.75, -0.75, 1.75}));
  EXPECT_LT(loss_of().item<double>(), before);
}

}  // namespace
}  // namespace kiln::test
