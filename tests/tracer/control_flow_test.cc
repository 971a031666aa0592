// Tests of kiln::cond and kiln::while_loop: eager branches and loops (values, side effects,
// gradients vs central differences), traced regions (one trace for every outcome, host side
// effects at trace time, the region rules' errors), interpreter vs compiled vs eager, gradients
// through a traced cond (also second order and in a training step), and traced loops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kiln/kiln.h"
#include "tests/error_of.h"
#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

Tensor scalar_bool(bool b) { return Tensor::scalar(b); }
Tensor positive(const Tensor& t) { return kiln::greater(kiln::reduce_sum(t), Tensor::scalar(0.0, t.dtype())); }

void expect_close(const Tensor& got, const Tensor& want, double rel = 1e-5) {
  ASSERT_TRUE(got.defined() && want.defined());
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape());
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], rel * std::max(1.0, std::fabs(w[i]))) << "element " << i;
}

// ---- Eager ----

TEST(CondEager, RunsOnlyTheTakenBranch) {
  int then_runs = 0, else_runs = 0;
  Tensor x = make({1, 2, 3}, {3});
  auto run = [&](bool p) {
    return kiln::cond(scalar_bool(p), [&] { ++then_runs; return x * 2.0; }, [&] { ++else_runs; return x - 1.0; });
  };
  expect_close(run(true), make({2, 4, 6}, {3}));
  EXPECT_EQ(then_runs, 1);
  EXPECT_EQ(else_runs, 0);
  expect_close(run(false), make({0, 1, 2}, {3}));
  EXPECT_EQ(then_runs, 1);
  EXPECT_EQ(else_runs, 1);
  // A one-element [1] pred, and several results.
  std::vector<Tensor> r = kiln::cond(Tensor::from_vector(std::vector<bool>{true}, Shape{1}),
                                     [&] { return std::vector<Tensor>{x, x * x}; },
                                     [&] { return std::vector<Tensor>{x, x}; });
  ASSERT_EQ(r.size(), 2u);
  expect_close(r[1], make({1, 4, 9}, {3}));
}

TEST(CondEager, PredMustBeAOneElementBool) {
  Tensor x = make({1, 2}, {2});
  auto branch = [&] { return x; };
  std::string e = error_of([&] { kiln::cond(make({1}, {}), branch, branch); });
  EXPECT_TRUE(has(e, "kiln::cond: pred must be a scalar (or one-element) bool tensor, got float32[]"));
  e = error_of([&] { kiln::cond(Tensor::from_vector(std::vector<bool>{true, false}, Shape{2}), branch, branch); });
  EXPECT_TRUE(has(e, "got bool[2]"));
  e = error_of([&] { kiln::cond(scalar_bool(true), [] { return Tensor(); }, branch); });
  EXPECT_TRUE(has(e, "kiln::cond: then_fn's result 0 is an undefined Tensor"));
}

TEST(WhileLoopEager, LoopsUntilCondIsFalse) {
  int body_runs = 0;
  auto doubling = [&](const Tensor& x) {
    return kiln::while_loop(
        [](const std::vector<Tensor>& v) { return kiln::less(kiln::reduce_sum(v[0]), Tensor::scalar(100.0f)); },
        [&](const std::vector<Tensor>& v) {
          ++body_runs;
          return std::vector<Tensor>{v[0] * 2.0, v[1] + Tensor::scalar(int32_t{1})};
        },
        {x, Tensor::scalar(int32_t{0})});
  };
  std::vector<Tensor> r = doubling(make({1, 2}, {2}));  // sum 3 -> 6 -> ... -> 192: 6 doublings
  expect_close(r[0], make({64, 128}, {2}));
  EXPECT_EQ(r[1].item<int32_t>(), 6);
  EXPECT_EQ(body_runs, 6);
  r = doubling(make({100, 1}, {2}));  // no iteration
  EXPECT_EQ(r[1].item<int32_t>(), 0);
  EXPECT_EQ(body_runs, 6);
}

TEST(WhileLoopEager, BodyMustKeepTheLoopVarsTypes) {
  auto cond = [](const std::vector<Tensor>&) { return Tensor::scalar(true); };
  std::string e = error_of([&] {
    kiln::while_loop(cond, [](const std::vector<Tensor>& v) { return std::vector<Tensor>{kiln::concat({v[0], v[0]}, 0)}; },
                     {make({1, 2}, {2})});
  });
  EXPECT_TRUE(has(e, "kiln::while_loop: tensor 0 is float32[4] in body_fn's result but float32[2] in loop_vars"));
  e = error_of([&] {
    kiln::while_loop([](const std::vector<Tensor>& v) { return v[0]; },
                     [](const std::vector<Tensor>& v) { return v; }, {make({1, 2}, {2})});
  });
  EXPECT_TRUE(has(e, "kiln::while_loop: cond_fn's result must be a scalar (or one-element) bool tensor, got float32[2]"));
}

// f(x, w) = cond(sum(x) > 0, exp(x) * w, x * x - w): both sides of the branch, float64.
Tensor branchy(const std::vector<Tensor>& in) {
  return kiln::cond(positive(in[0]), [&] { return kiln::exp(in[0]) * in[1]; }, [&] { return in[0] * in[0] - in[1]; });
}

TEST(CondEager, GradientsMatchCentralDifferencesOnBothBranches) {
  check_gradients(branchy, {f64({0.5, -0.2, 0.3}, {3}), f64({1.5, 2.0, -0.7}, {3})});
  check_gradients(branchy, {f64({-0.5, -0.2, 0.3}, {3}), f64({1.5, 2.0, -0.7}, {3})});
}

// Three steps of x = tanh(x * w) + x, counted by an int32 loop var.
Tensor loop_of_three(const std::vector<Tensor>& in) {
  return kiln::while_loop(
      [](const std::vector<Tensor>& v) { return kiln::less(v[1], Tensor::scalar(int32_t{3})); },
      [&](const std::vector<Tensor>& v) {
        return std::vector<Tensor>{kiln::tanh(v[0] * in[1]) + v[0], v[1] + Tensor::scalar(int32_t{1})};
      },
      {in[0], Tensor::scalar(int32_t{0})})[0];
}

TEST(WhileLoopEager, GradientsMatchCentralDifferences) {
  check_gradients(loop_of_three, {f64({0.5, -0.2, 0.3}, {3}), f64({0.7, -1.1, 0.4}, {3})});
}

// ---- Traced ----

TEST(CondTraced, OneTraceServesBothOutcomesWithEachBranchTracedOnce) {
  for (bool compile : {false, true}) {
    SCOPED_TRACE(compile ? "compiled" : "interpreted");
    int then_traced = 0, else_traced = 0;
    auto body = [&](const Tensor& x, const Tensor& flag) {
      return kiln::cond(
          flag, [&] { ++then_traced; return kiln::exp(x) * 2.0; },
          [&] { ++else_traced; return x - 1.0; });
    };
    auto f = kiln::function(body, {.name = "branch", .compile = compile});
    for (int call = 0; call < 6; ++call) {
      Tensor x = make({0.5, -1.0 * call, 2.0}, {3});
      const bool p = call % 2 == 0;
      Tensor got = f(x, scalar_bool(p));
      expect_close(got, p ? kiln::exp(x) * 2.0 : x - 1.0);
    }
    EXPECT_EQ(f.trace_count(), 1);
    EXPECT_EQ(then_traced, 1);
    EXPECT_EQ(else_traced, 1);
    EXPECT_TRUE(has(f.explain(), compile ? "compiled in" : "interpreted: compilation is off"));
  }
}

TEST(CondTraced, GraphTextShowsBothRegionsIndented) {
  auto f = kiln::function([](const Tensor& x) { return kiln::cond(positive(x), [&] { return x * 2.0; }, [&] { return -x; }); });
  const std::string text = f.graph_text(make({1, 2}, {2}));
  EXPECT_TRUE(has(text, " = cond(")) << text;
  EXPECT_TRUE(has(text, "    then(%arg0: float32[2], %arg1: float32[]) {\n      %2 = mul(%arg0, %arg1)")) << text;
  EXPECT_TRUE(has(text, "    else(%arg0: float32[2]) {\n      %1 = neg(%arg0)")) << text;
  EXPECT_TRUE(has(text, "      yield ")) << text;
}

TEST(CondTraced, BranchesMustGiveTheSameTypes) {
  Tensor x = make({1, 2}, {2});
  auto count = kiln::function([](const Tensor& a) {
    return kiln::cond(positive(a), [&] { return std::vector<Tensor>{a, a}; }, [&] { return std::vector<Tensor>{a}; });
  });
  EXPECT_TRUE(has(error_of([&] { count(x); }), "kiln::cond: then_fn gives 2 tensors, else_fn 1"));
  auto shape = kiln::function([](const Tensor& a) {
    return kiln::cond(positive(a), [&] { return a; }, [&] { return kiln::reduce_sum(a); });
  });
  EXPECT_TRUE(has(error_of([&] { shape(x); }), "kiln::cond: tensor 0 is float32[2] in then_fn but float32[] in else_fn"));
  auto dtype = kiln::function([](const Tensor& a) {
    return kiln::cond(positive(a), [&] { return a; }, [&] { return kiln::cast(a, DType::Float64); });
  });
  EXPECT_TRUE(has(error_of([&] { dtype(x); }), "tensor 0 is float32[2] in then_fn but float64[2] in else_fn"));
  auto pred = kiln::function([](const Tensor& a) { return kiln::cond(a, [&] { return a; }, [&] { return a; }); });
  EXPECT_TRUE(has(error_of([&] { pred(x); }), "kiln::cond: pred must be a scalar (or one-element) bool tensor, got float32[2]"));
}

TEST(CondTraced, AssigningAVariableInABranchSaysWhatToDo) {
  Variable v(make({1, 2}, {2}), true, "counter");
  auto f = kiln::function([&](const Tensor& a) {
    return kiln::cond(positive(a), [&] { v.assign_add(a); return a; }, [&] { return a; });
  });
  const std::string e = error_of([&] { f(make({1, 1}, {2})); });
  EXPECT_TRUE(has(e, "kiln::cond: `assign_add` writes variable 'counter' inside a branch")) << e;
  EXPECT_TRUE(has(e, "return it from the cond, and assign it afterwards")) << e;
  // What the message suggests works, and reads the variable inside the branch.
  auto g = kiln::function([&](const Tensor& a) {
    Tensor next = kiln::cond(positive(a), [&] { return v + a; }, [&] { return v * 1.0; });
    v.assign(next);
    return next;
  });
  g(make({1, 1}, {2}));
  g(make({-1, -1}, {2}));
  g(make({2, 3}, {2}));
  expect_close(v, make({4, 6}, {2}));
}

TEST(CondTraced, ATensorFromInsideABranchCannotBeUsedOutside) {
  auto f = kiln::function([](const Tensor& a) {
    Tensor leaked;
    Tensor r = kiln::cond(positive(a), [&] { leaked = a * 2.0; return leaked; }, [&] { return a; });
    return r + leaked;
  });
  EXPECT_TRUE(has(error_of([&] { f(make({1, 1}, {2})); }), "inside a kiln::cond branch or kiln::while_loop body"));
}

TEST(CondTraced, RelaxedBatchDimsFollowIntoTheRegions) {
  auto body = [](const Tensor& x) {
    return kiln::cond(positive(x), [&] { return kiln::reduce_mean(x * x, {0}); }, [&] { return kiln::reduce_sum(x, {0}); });
  };
  auto f = kiln::function(body, {.input_signature = {TensorSpec{{-1, 2}}}});
  for (int64_t batch : {3, 5, 3}) {
    Tensor pos = random({batch, 2}, DType::Float32, 0.1, 1, static_cast<uint32_t>(batch));
    expect_close(f(pos), body(pos));
    expect_close(f(-pos), body(-pos));
  }
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_TRUE(has(f.explain(), "runs the shared compiled code")) << f.explain();
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
}

// Doubles x until its sum reaches `limit`, counting the steps: a data-dependent trip count.
std::vector<Tensor> double_until(const Tensor& x, const Tensor& limit) {
  return kiln::while_loop(
      [&](const std::vector<Tensor>& v) { return kiln::less(kiln::reduce_sum(v[0]), limit); },
      [](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[0] * 2.0, v[1] + Tensor::scalar(int32_t{1})}; },
      {x, Tensor::scalar(int32_t{0})});
}

TEST(WhileLoopTraced, OneTraceFollowsTheTripCountOfEveryCall) {
  for (bool compile : {false, true}) {
    SCOPED_TRACE(compile ? "compiled" : "interpreted");
    int body_traced = 0;
    auto f = kiln::function(
        [&](const Tensor& x, const Tensor& limit) {
          std::vector<Tensor> r = kiln::while_loop(
              [&](const std::vector<Tensor>& v) { return kiln::less(kiln::reduce_sum(v[0]), limit); },
              [&](const std::vector<Tensor>& v) {
                ++body_traced;
                return std::vector<Tensor>{v[0] * 2.0, v[1] + Tensor::scalar(int32_t{1})};
              },
              {x, Tensor::scalar(int32_t{0})});
          return std::make_pair(r[0], r[1]);
        },
        {.name = "doubling", .compile = compile});
    for (double limit : {100.0, 5.0, 1e4, 1.0}) {
      Tensor x = make({1, 2}, {2});
      auto [value, steps] = f(x, Tensor::scalar(static_cast<float>(limit)));
      std::vector<Tensor> want = double_until(x, Tensor::scalar(static_cast<float>(limit)));
      expect_close(value, want[0]);
      EXPECT_EQ(steps.item<int32_t>(), want[1].item<int32_t>()) << "limit " << limit;
    }
    EXPECT_EQ(f.trace_count(), 1);
    EXPECT_EQ(body_traced, 1);
    EXPECT_TRUE(has(f.explain(), compile ? "compiled in" : "interpreted")) << f.explain();
  }
}

TEST(WhileLoopTraced, CondInsideALoopBodyCompilesAndMatchesEager) {
  auto body = [](const Tensor& start) {
    std::vector<Tensor> r = kiln::while_loop(
        [](const std::vector<Tensor>& v) { return kiln::less(v[0], Tensor::scalar(1000.0f)); },
        [](const std::vector<Tensor>& v) {
          Tensor next = kiln::cond(kiln::greater(v[0], Tensor::scalar(10.0f)), [&] { return v[0] * 3.0; }, [&] { return v[0] + 7.0; });
          return std::vector<Tensor>{next, v[1] + Tensor::scalar(int32_t{1})};
        },
        {start, Tensor::scalar(int32_t{0})});
    return std::make_pair(r[0], r[1]);
  };
  auto f = kiln::function(body);
  for (float start : {1.0f, 12.0f, 999.0f, 2000.0f, -30.0f}) {
    auto [x, steps] = f(Tensor::scalar(start));
    auto [want_x, want_steps] = body(Tensor::scalar(start));
    expect_close(x, want_x);
    EXPECT_EQ(steps.item<int32_t>(), want_steps.item<int32_t>()) << "start " << start;
  }
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_TRUE(has(f.explain(), "compiled in")) << f.explain();
}

TEST(WhileLoopTraced, RuntimeChecksInARegionRunOnTheInterpreter) {
  // Collatz steps of each start value: integer division (checked for zero divisors) in a loop.
  auto body = [](const Tensor& start) {
    return kiln::while_loop(
        [](const std::vector<Tensor>& v) { return kiln::greater(v[0], Tensor::scalar(int64_t{1})); },
        [](const std::vector<Tensor>& v) {
          Tensor half = kiln::div(v[0], Tensor::scalar(int64_t{2}));
          Tensor even = kiln::equal(half * Tensor::scalar(int64_t{2}), v[0]);
          Tensor next = kiln::cond(even, [&] { return half; }, [&] { return v[0] * Tensor::scalar(int64_t{3}) + Tensor::scalar(int64_t{1}); });
          return std::vector<Tensor>{next, v[1] + Tensor::scalar(int64_t{1})};
        },
        {start, Tensor::scalar(int64_t{0})})[1];
  };
  auto f = kiln::function(body);
  const int64_t want[] = {0, 1, 7, 2, 5, 8, 16, 3, 19};  // steps for 1..9
  for (int64_t n = 1; n <= 9; ++n) EXPECT_EQ(f(Tensor::scalar(n)).item<int64_t>(), want[n - 1]) << "n = " << n;
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_TRUE(has(f.explain(), "interpreted: op 'div' (node 0) inside kiln::while_loop's body needs a runtime check"))
      << f.explain();
}

TEST(WhileLoopTraced, GradientThroughATracedLoopIsAClearError) {
  Variable w(make({0.5, -0.5}, {2}), true, "w");
  auto f = kiln::function([&](const Tensor& x) {
    GradientTape tape;
    Tensor y = kiln::reduce_sum(loop_of_three({x, w}));
    return tape.gradient(y, w);
  });
  const std::string e = error_of([&] { f(make({1, 2}, {2})); });
  EXPECT_TRUE(has(e, "kiln::while_loop: gradients through a while_loop traced in a kiln::function are not supported")) << e;
  // The eager loop's gradient is there (the documented way out).
  auto eager = kiln::function([&](const Tensor& x) {
    GradientTape tape;
    Tensor y = kiln::reduce_sum(loop_of_three({x, w}));
    return tape.gradient(y, w);
  }, {.jit = false});
  EXPECT_TRUE(eager(make({1, 2}, {2})).defined());
}

// ---- Gradients through a traced cond ----

TEST(CondTraced, GradientsOfCapturesAndVariablesMatchEager) {
  Variable w(f64({0.3, -0.4, 0.8}, {3}), true, "w");
  Variable unused(f64({1, 1, 1}, {3}), true, "unused_in_else");
  auto body = [&](const Tensor& x) {
    GradientTape tape;
    tape.watch(x);
    Tensor y = kiln::cond(positive(x), [&] { return kiln::exp(x * w) + unused * x; }, [&] { return kiln::tanh(x) * w; });
    Tensor loss = kiln::reduce_sum(y * y);
    std::vector<Tensor> g = tape.gradient(loss, {x, w, unused}, {}, UnconnectedGradients::Zero);
    return std::vector<Tensor>{loss, g[0], g[1], g[2]};
  };
  for (bool compile : {false, true}) {
    SCOPED_TRACE(compile ? "compiled" : "interpreted");
    auto f = kiln::function(body, {.compile = compile});
    for (double sign : {1.0, -1.0, 1.0}) {
      Tensor x = f64({0.5 * sign, 0.2, -0.1 * sign}, {3});
      std::vector<Tensor> got = f(x), want = body(x);
      for (size_t k = 0; k < want.size(); ++k) expect_close(got[k], want[k], 1e-12);
    }
    EXPECT_EQ(f.trace_count(), 1);
  }
}

TEST(CondTraced, SecondOrderGradientsMatchEager) {
  auto body = [](const Tensor& x) {
    GradientTape outer;
    outer.watch(x);
    Tensor dx;
    {
      GradientTape inner;
      inner.watch(x);
      Tensor y = kiln::reduce_sum(kiln::cond(positive(x), [&] { return x * x * x; }, [&] { return kiln::exp(x) * x; }));
      dx = inner.gradient(y, x);
    }
    return std::make_pair(dx, outer.gradient(kiln::reduce_sum(dx), x));
  };
  auto f = kiln::function(body);
  for (double sign : {1.0, -1.0}) {
    Tensor x = f64({0.7 * sign, -0.3 * sign}, {2});
    auto [d1, d2] = f(x);
    auto [w1, w2] = body(x);
    expect_close(d1, w1, 1e-12);
    expect_close(d2, w2, 1e-12);
  }
  EXPECT_EQ(f.trace_count(), 1);
}

// The article's dynamic model with the extra layer chosen per call by kiln::cond on a tensor.
// `skip_reads_extra`: the branch without the layer still reads its variables (h - 0.5 extra(h)).
struct DynamicMlp {
  nn::Dense fc1, fc2, extra, fc3;
  std::unique_ptr<optim::Optimizer> optimizer;
  bool skip_reads_extra;
  DynamicMlp(const std::string& tag, std::unique_ptr<optim::Optimizer> opt, bool skip_reads_extra)
      : fc1(8, {.kernel_initializer = nn::initializers::glorot_uniform(1), .input_dim = 4}, tag + "fc1"),
        fc2(8, {.kernel_initializer = nn::initializers::glorot_uniform(2), .input_dim = 8}, tag + "fc2"),
        extra(8, {.kernel_initializer = nn::initializers::glorot_uniform(3), .input_dim = 8}, tag + "extra"),
        fc3(3, {.kernel_initializer = nn::initializers::glorot_uniform(4), .input_dim = 8}, tag + "fc3"),
        optimizer(std::move(opt)),
        skip_reads_extra(skip_reads_extra) {}
  std::vector<Variable> vars() const {
    std::vector<Variable> v;
    for (const nn::Dense* d : {&fc1, &fc2, &extra, &fc3}) {
      v.push_back(d->kernel());
      v.push_back(d->bias());
    }
    return v;
  }
  Tensor step(const Tensor& x, const Tensor& labels, const Tensor& take_extra) {
    GradientTape tape;
    Tensor h = kiln::relu(fc2(kiln::relu(fc1(x))));
    h = kiln::cond(take_extra, [&] { return kiln::relu(extra(h)); },
                   [&] { return skip_reads_extra ? h - extra(h) * 0.5 : h; });
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(labels, fc3(h)));
    optimizer->apply_gradients(tape.gradient(loss, vars()), vars());
    return loss;
  }
};

// Six steps of `make_optimizer`'s training, eager and compiled, both branch outcomes.
void compiled_training_matches_eager(const std::function<std::unique_ptr<optim::Optimizer>()>& make_optimizer,
                                     bool skip_reads_extra) {
  DynamicMlp eager_model("eager_", make_optimizer(), skip_reads_extra);
  DynamicMlp compiled_model("compiled_", make_optimizer(), skip_reads_extra);
  auto eager = kiln::function([&](const Tensor& x, const Tensor& y, const Tensor& p) { return eager_model.step(x, y, p); },
                              {.jit = false});
  auto compiled = kiln::function(
      [&](const Tensor& x, const Tensor& y, const Tensor& p) { return compiled_model.step(x, y, p); }, {.name = "dynamic_step"});
  for (int s = 0; s < 6; ++s) {
    SCOPED_TRACE("step " + std::to_string(s));
    Tensor x = random({16, 4}, DType::Float32, -1, 1, 10 + s);
    Tensor y = kiln::one_hot(random({16}, DType::Int32, 0, 3, 20 + s), 3);
    Tensor take = scalar_bool(s % 3 != 1);
    expect_close(compiled(x, y, take), eager(x, y, take));
    std::vector<Variable> a = compiled_model.vars(), b = eager_model.vars();
    for (size_t k = 0; k < a.size(); ++k) expect_close(a[k], b[k]);
  }
  EXPECT_EQ(compiled.trace_count(), 1);
  EXPECT_TRUE(has(compiled.explain(), "compiled in")) << compiled.explain();
}

TEST(CondTraced, TrainingStepWithACondLayerMatchesEager) {
  // SGD: a variable the taken branch does not read gets no update either way (eagerly its
  // gradient is undefined, traced it is zero).
  compiled_training_matches_eager([] { return std::make_unique<optim::SGD>(optim::SGDOptions{.learning_rate = 0.1}); },
                                  /*skip_reads_extra=*/false);
}

TEST(CondTraced, AdamTrainingStepWithACondLayerMatchesEager) {
  // Adam moves a variable with a zero gradient (its moments decay), so the layer is read on
  // both sides: see docs/kiln-function.md (gradients through kiln::cond).
  compiled_training_matches_eager([] { return std::make_unique<optim::Adam>(); }, /*skip_reads_extra=*/true);
}

TEST(CondTraced, RandomOpsInABranchRunOnTheInterpreter) {
  kiln::Generator gen(3);
  auto f = kiln::function([&](const Tensor& x) {
    return kiln::cond(positive(x), [&] { return x + kiln::random_uniform({2}, 0.0, 1.0, DType::Float32, &gen); },
                      [&] { return x; });
  });
  Tensor x = make({1, 2}, {2});
  std::vector<double> v = f(x).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_TRUE(v[i] >= x.to_vector<double>()[i] && v[i] < x.to_vector<double>()[i] + 1);
  expect_close(f(-x), -x);
  EXPECT_TRUE(has(f.explain(), "interpreted: op 'random_uniform' (node 0) inside kiln::cond's then draws its numbers on the host"))
      << f.explain();
}

// ---- A Variable among the results (Note [Control flow returns values]) ----

using VariableStep = std::function<Tensor(const Variable&, const Tensor&)>;

// `step` from w = [1, 2], eagerly and under kiln::function (the tracing call and a compiled one),
// returns `want` each time and leaves w at [0, 1].
void expect_every_way(const VariableStep& step, const Tensor& x, const Tensor& want) {
  Variable w(make({1, 2}, {2}), true, "w");
  expect_close(step(w, x), want);
  expect_close(w, make({0, 1}, {2}));
  auto f = kiln::function([&](const Tensor& a) { return step(w, a); });
  for (int call = 0; call < 2; ++call) {
    w.assign(make({1, 2}, {2}));
    expect_close(f(x), want);
    expect_close(w, make({0, 1}, {2}));
  }
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_TRUE(has(f.explain(), "compiled in")) << f.explain();
}

const Tensor kOnes = make({1, 1}, {2});

// Fuzz seed 39205: a cond returned a Variable that an SGD step then updated in place.
TEST(ControlFlowResults, AVariableReturnedByACondKeepsItsValueAtTheCond) {
  expect_every_way([](const Variable& w, const Tensor& x) {
    Tensor r = kiln::cond(positive(x), [&] { return Tensor(w); }, [&] { return w * 2.0; });
    w.assign_sub(kOnes);
    return r;
  }, kOnes, make({1, 2}, {2}));
}

TEST(ControlFlowResults, AConcretePredicateInATraceAlsoReturnsTheValue) {
  expect_every_way([](const Variable& w, const Tensor& x) {
    Tensor r = kiln::cond(Tensor::scalar(true), [&] { return Tensor(w); }, [&] { return x; });
    w.assign_sub(kOnes);
    return r;
  }, kOnes, make({1, 2}, {2}));
}

TEST(ControlFlowResults, AVariableAsALoopVariableKeepsItsValueAtTheLoop) {
  expect_every_way([](const Variable& w, const Tensor& x) {
    Tensor r = kiln::while_loop([](const std::vector<Tensor>& v) { return kiln::less(kiln::reduce_sum(v[0]), Tensor::scalar(0.0f)); },
                                [](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[0] + 1.0}; }, {w})[0];
    w.assign_sub(x);
    return r;
  }, kOnes, make({1, 2}, {2}));
}

TEST(ControlFlowResults, AVariableHandleShowsLaterAssignsAndReadValueDoesNot) {
  // A plain copy of the handle is the variable: the step returns its value at the end.
  expect_every_way([](const Variable& w, const Tensor& x) {
    Tensor same = w;
    w.assign_sub(x);
    return same;
  }, kOnes, make({0, 1}, {2}));
  expect_every_way([](const Variable& w, const Tensor& x) {
    Tensor before = w.read_value();
    w.assign_sub(x);
    return before;
  }, kOnes, make({1, 2}, {2}));
}

// A read in a trace is of the variable on each call, not of its value when the trace ran: the
// first read of a variable the trace has not touched yet captures it too.
TEST(ControlFlowResults, AReadInATraceFollowsTheVariableOnEveryCall) {
  Variable w(make({1, 2}, {2}), true, "w");
  auto f = kiln::function([&](const Tensor& x) {
    Tensor r = kiln::cond(Tensor::scalar(true), [&] { return Tensor(w); }, [&] { return x; });
    w.assign_sub(x);
    return r;
  });
  expect_close(f(kOnes), make({1, 2}, {2}));
  expect_close(f(kOnes), make({0, 1}, {2}));
  expect_close(f(kOnes), make({-1, 0}, {2}));
  auto g = kiln::function([&](const Tensor& x) {
    Tensor before = w.read_value();
    w.assign_add(x);
    return before;
  });
  expect_close(g(kOnes), make({-2, -1}, {2}));
  expect_close(g(kOnes), make({-1, 0}, {2}));
  EXPECT_EQ(f.trace_count() + g.trace_count(), 2);
}

TEST(ControlFlowResults, GradientsFlowThroughAReadToTheVariable) {
  Variable w(make({1, -2}, {2}), true, "w");
  auto grad_of = [&](const Tensor& x) {
    GradientTape tape;
    Tensor r = kiln::cond(positive(x), [&] { return Tensor(w); }, [&] { return w * 3.0; });
    return tape.gradient(kiln::reduce_sum(r * r), {w})[0];
  };
  expect_close(grad_of(kOnes), make({2, -4}, {2}));
  expect_close(grad_of(-kOnes), make({18, -36}, {2}));
  auto f = kiln::function(grad_of);
  expect_close(f(kOnes), make({2, -4}, {2}));
  expect_close(f(-kOnes), make({18, -36}, {2}));
}

}  // namespace
}  // namespace kiln::test
