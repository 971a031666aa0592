// Tests of kiln::function: tracing once per signature, cached runs vs eager, the tracing
// footguns (reading symbolic values, variables on later traces, baked host branches), retrace
// reasons and warnings, -1 dims, aliasing, and the whole iris training step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "kiln/kiln.h"
#include "tests/error_of.h"

namespace {
using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::TensorSpec;
using kiln::Variable;
using kiln::test::error_of;

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  kiln::Generator gen(seed);
  return kiln::random_normal(shape, 0.0, 1.0, DType::Float32, &gen);
}

void expect_close(const Tensor& a, const Tensor& b, double rel = 1e-5) {
  ASSERT_TRUE(a.defined() && b.defined());
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(a.dtype(), b.dtype());
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(x[i], y[i], rel * std::max(1.0, std::fabs(y[i]))) << "element " << i;
}

Tensor one_hot_labels(int64_t n, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (auto& i : idx) i = static_cast<int64_t>(rng() % 3);
  return kiln::one_hot(Tensor::from_vector(idx), 3);
}

// ---- Tracing and the cache ----

TEST(FunctionTrace, FirstCallTracesLaterCallsRunTheCachedGraph) {
  int host_calls = 0;
  auto body = [&](const Tensor& x, const Tensor& y) {
    ++host_calls;  // a host side effect: happens while tracing only
    return kiln::exp(x) * y + x / 2.0;
  };
  auto f = kiln::function(body, {.name = "elementwise"});
  for (int i = 0; i < 4; ++i) {
    Tensor x = random_tensor({3, 5}, 10 + i), y = random_tensor({3, 5}, 20 + i);
    Tensor got = f(x, y);
    EXPECT_FALSE(got.is_symbolic());
    int before = host_calls;
    Tensor want = body(x, y);
    host_calls = before;
    expect_close(got, want);
  }
  EXPECT_EQ(host_calls, 1);
  EXPECT_EQ(f.trace_count(), 1);
}

TEST(FunctionTrace, MatmulReluSoftmaxCrossEntropyMatchesEager) {
  Variable w(random_tensor({4, 3}, 1), true, "w");
  auto body = [&](const Tensor& x, const Tensor& labels) {
    Tensor logits = kiln::relu(kiln::matmul(x, w));
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(labels, logits));
    return std::make_tuple(loss, kiln::softmax(logits));
  };
  auto f = kiln::function(body);
  for (int i = 0; i < 3; ++i) {
    Tensor x = random_tensor({16, 4}, 30 + i), labels = one_hot_labels(16, i);
    auto [loss, probs] = f(x, labels);
    auto [want_loss, want_probs] = body(x, labels);
    expect_close(loss, want_loss);
    expect_close(probs, want_probs);
  }
  EXPECT_EQ(f.trace_count(), 1);
}

TEST(FunctionTrace, ReturnsVectorsPairsAndVoid) {
  Variable counter(Tensor::scalar(0.0f), false, "counter");
  auto vec = kiln::function([](const Tensor& x) { return std::vector<Tensor>{x + 1.0, Tensor(), x}; });
  Tensor x = random_tensor({2}, 3);
  std::vector<Tensor> out = vec(x);
  ASSERT_EQ(out.size(), 3u);
  expect_close(out[0], x + 1.0);
  EXPECT_FALSE(out[1].defined());
  EXPECT_TRUE(out[2].is_same(x));  // an argument returned as is, as eagerly
  auto pair = kiln::function([](const Tensor& a) { return std::pair<Tensor, Tensor>{a * 2.0, -a}; });
  auto [p0, p1] = pair(x);
  expect_close(p1, -x);
  auto bump = kiln::function([&](const Tensor& by) { counter.assign_add(by); });
  bump(Tensor::scalar(2.0f));
  bump(Tensor::scalar(3.0f));
  EXPECT_EQ(counter.item<float>(), 5.0f);
  EXPECT_EQ(bump.trace_count(), 1);
}

TEST(FunctionTrace, GraphTextShowsOneOpPerLineWithTypes) {
  Variable w(random_tensor({4, 20}, 1), true, "dense/kernel");
  auto f = kiln::function([&](const Tensor& x) { return kiln::relu(kiln::matmul(x, w)); },
                          {.name = "fwd", .input_signature = {TensorSpec{{-1, 4}}}});
  std::string text = f.graph_text(random_tensor({16, 4}, 2));
  EXPECT_NE(text.find("kiln.func @fwd(%arg0: float32[?,4])"), std::string::npos) << text;
  EXPECT_NE(text.find("%v0 = variable 'dense/kernel' : float32[4,20]"), std::string::npos) << text;
  EXPECT_NE(text.find("matmul(%arg0, %v0) : float32[?,20]"), std::string::npos) << text;
  EXPECT_NE(text.find("relu("), std::string::npos) << text;
  EXPECT_EQ(f.trace_count(), 1);
}

// ---- The compiled path ----

TEST(FunctionCompiled, LowerGivesEveryStageOfTheCompiledGraph) {
  Variable w(random_tensor({4, 20}, 1), true, "dense/kernel");
  auto f = kiln::function([&](const Tensor& x) { return kiln::relu(kiln::matmul(x, w)); }, {.name = "fwd"});
  Tensor x = random_tensor({16, 4}, 2);
  using kiln::Stage;
  std::string traced = f.lower(Stage::Traced, x);
  EXPECT_NE(traced.find("func.func @kiln_fwd"), std::string::npos) << traced;
  EXPECT_NE(traced.find("tensor<16x4xf32>"), std::string::npos) << traced;
  EXPECT_NE(f.lower(Stage::Bufferized, x).find("memref<16x20xf32>"), std::string::npos);
  EXPECT_NE(f.lower(Stage::LlvmDialect, x).find("llvm.func"), std::string::npos);
  EXPECT_NE(f.lower(Stage::LlvmIr, x).find("define "), std::string::npos);
  EXPECT_FALSE(f.lower(Stage::Asm, x).empty());
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_EQ(f.compile_count(), 1);
  expect_close(f(x), kiln::relu(kiln::matmul(x, w)));
  EXPECT_NE(f.explain().find("compiled in"), std::string::npos) << f.explain();
}

TEST(FunctionTrace, RandomOpsDrawNewNumbersOnEveryCall) {
  for (bool compile : {false, true}) {
    kiln::Generator gen(5);
    auto f = kiln::function([&](const Tensor& x) { return x + kiln::random_uniform({4}, 0.0, 1.0, DType::Float32, &gen); },
                            {.name = "noise", .compile = compile});
    Tensor zero = kiln::zeros({4});
    Tensor a = f(zero), b = f(zero);
    kiln::Generator replay(5);
    replay.next_seed();  // the trace drew the first seed; each call draws the next, as eager calls would
    expect_close(a, kiln::random_uniform({4}, 0.0, 1.0, DType::Float32, &replay));
    expect_close(b, kiln::random_uniform({4}, 0.0, 1.0, DType::Float32, &replay));
    EXPECT_EQ(f.compile_count(), compile ? 1 : 0);
  }
}

TEST(FunctionCompiled, CompileOffInterpretsAndLowerSaysWhy) {
  auto f = kiln::function([](const Tensor& x) { return x * 2.0; }, {.name = "twice", .compile = false});
  Tensor x = random_tensor({3}, 1);
  expect_close(f(x), x * 2.0);
  EXPECT_EQ(f.compile_count(), 0);
  EXPECT_NE(f.explain().find("interpreted: compilation is off"), std::string::npos) << f.explain();
  std::string msg = error_of([&] { f.lower(kiln::Stage::Fused, x); });
  EXPECT_NE(msg.find("no fused IR: the graph runs on the interpreter"), std::string::npos) << msg;
}

// Note [KILN_VERIFY]: a compiled call also runs eagerly from the same variable values.
TEST(FunctionCompiled, VerifyModeRunsEagerlyToo) {
  setenv("KILN_VERIFY", "1", 1);
  Variable v(Tensor::from_vector<float>({1, 2, 3}), true, "v");
  auto f = kiln::function([&](const Tensor& x) {
    v.assign_add(x);
    return kiln::reduce_sum(kiln::exp(v));
  });
  Tensor x = Tensor::from_vector<float>({0.5f, 0.25f, 0.125f});
  Tensor got = f(x);
  unsetenv("KILN_VERIFY");
  EXPECT_EQ(f.compile_count(), 1);
  expect_close(v, Tensor::from_vector<float>({1.5f, 2.25f, 3.125f}));  // written once, not twice
  expect_close(got, kiln::reduce_sum(kiln::exp(Tensor::from_vector<float>({1.5f, 2.25f, 3.125f}))));
}

// Note [KILN_VERIFY] with random ops: the eager run draws what the compiled call drew (no false
// mismatch), and the generator moves on as for one call, so results equal the unverified ones.
TEST(FunctionCompiled, VerifyModeReplaysRandomDraws) {
  setenv("KILN_VERIFY", "1", 1);
  kiln::Generator gen(11);
  auto f = kiln::function(
      [&](const Tensor& x) { return kiln::dropout(x + kiln::random_normal({6}, 0.0, 1.0, DType::Float32, &gen), 0.5, true, &gen); },
      {.name = "verified_noise"});
  Tensor x = random_tensor({6}, 3);
  std::vector<Tensor> got;
  for (int i = 0; i < 3; ++i) got.push_back(f(x));  // each would throw on a mismatch
  unsetenv("KILN_VERIFY");
  EXPECT_EQ(f.compile_count(), 1);
  kiln::Generator replay(11);
  auto g = kiln::function(
      [&](const Tensor& x) { return kiln::dropout(x + kiln::random_normal({6}, 0.0, 1.0, DType::Float32, &replay), 0.5, true, &replay); },
      {.name = "unverified_noise"});
  for (int i = 0; i < 3; ++i) expect_close(got[static_cast<size_t>(i)], g(x));
}

TEST(FunctionTrace, ScalarArgumentsAreBakedAndKeyTheCache) {
  auto f = kiln::function([](const Tensor& x, int power, double scale) {
    Tensor y = x;
    for (int i = 1; i < power; ++i) y = y * x;  // a host loop, unrolled by the trace
    return y * scale;
  });
  Tensor x = random_tensor({4}, 5);
  expect_close(f(x, 3, 0.5), x * x * x * 0.5);
  expect_close(f(x, 3, 0.5), x * x * x * 0.5);
  expect_close(f(x, 2, 0.5), x * x * 0.5);
  EXPECT_EQ(f.trace_count(), 2);
}

// The hit path (same signature as the previous call) checks every part of the key: values of
// scalars, which variable, shapes, and the sizes of -1 dims.
TEST(FunctionTrace, EveryCallChecksTheWholeSignature) {
  Variable a(random_tensor({3}, 1), true, "a"), b(random_tensor({3}, 2), true, "b");
  auto want = [](const Tensor& x, const Tensor& v, int k) {
    return kiln::reduce_sum(x, {0}) * v * static_cast<float>(k);
  };
  auto f = kiln::function([&](const Tensor& x, const Variable& v, int k) { return want(x, v, k); },
                          {.input_signature = {TensorSpec{{-1, 3}}, std::nullopt, std::nullopt}});
  Tensor x4 = random_tensor({4, 3}, 3), y4 = random_tensor({4, 3}, 4), x5 = random_tensor({5, 3}, 5);
  expect_close(f(x4, a, 2), want(x4, a, 2));
  expect_close(f(y4, a, 2), want(y4, a, 2));  // hit
  expect_close(f(x5, a, 2), want(x5, a, 2));  // another size of the -1 dim
  expect_close(f(x4, a, 2), want(x4, a, 2));  // and back
  expect_close(f(x4, a, 3), want(x4, a, 3));  // a scalar's value
  expect_close(f(x4, a, 3), want(x4, a, 3));  // hit
  expect_close(f(x4, b, 3), want(x4, b, 3));  // another variable
  expect_close(f(x5, a, 2), want(x5, a, 2));  // back to the first entry, second size
  EXPECT_EQ(f.trace_count(), 3);
  // One per entry: sizes 4 and 5 of entry 1 share its code (Note [One compiled code for every size]).
  EXPECT_EQ(f.compile_count(), 3);
  EXPECT_THROW(f(random_tensor({4, 2}, 6), a, 2), kiln::Error);  // does not fit the input_signature
}

TEST(FunctionTrace, JitOffRunsEagerly) {
  int calls = 0;
  auto f = kiln::function([&](const Tensor& x) { ++calls; return x * 2.0; }, {.jit = false});
  f(random_tensor({2}, 1));
  f(random_tensor({2}, 2));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(f.trace_count(), 0);
}

// ---- Footguns ----

TEST(TraceErrors, ReadingASymbolicValueNamesTheOpAndSuggestsCond) {
  Variable w(random_tensor({4, 3}, 1), true, "w");
  Tensor x = random_tensor({16, 4}, 2);
  auto item = kiln::function([&](const Tensor& a) { (void)kiln::matmul(a, w).item<float>(); return a; });
  std::string msg = error_of([&] { item(x); });
  EXPECT_NE(msg.find("`matmul`'s result (float32[16,3])"), std::string::npos) << msg;
  EXPECT_NE(msg.find("kiln::cond"), std::string::npos) << msg;
  EXPECT_NE(msg.find("argument"), std::string::npos) << msg;
  EXPECT_THROW(item(x), kiln::TraceError);

  auto vec = kiln::function([](const Tensor& a) { (void)kiln::exp(a).to_vector<float>(); return a; });
  EXPECT_NE(error_of([&] { vec(x); }).find("to_vector() reads the value of `exp`'s result"), std::string::npos);

  auto branch = kiln::function([](const Tensor& a) {
    if (kiln::greater(kiln::reduce_sum(a), Tensor::scalar(0.0f))) return a;  // `if` on a tensor
    return -a;
  });
  std::string b = error_of([&] { branch(x); });
  EXPECT_NE(b.find("operator bool"), std::string::npos) << b;
  EXPECT_NE(b.find("`greater`'s result (bool[])"), std::string::npos) << b;
  EXPECT_THROW(branch(x), kiln::TraceError);

  auto var_read = kiln::function([&](const Tensor& a) { w.assign_add(a); return Tensor::scalar(w.item<float>()); });
  std::string v = error_of([&] { var_read(random_tensor({4, 3}, 3)); });
  EXPECT_NE(v.find("variable 'w'"), std::string::npos) << v;
  // A failed trace leaves the variable readable and unchanged.
  EXPECT_NO_THROW((void)w.to_vector<float>());
}

TEST(TraceErrors, TensorTruthinessEagerly) {
  EXPECT_TRUE(static_cast<bool>(Tensor::scalar(2.0f)));
  EXPECT_FALSE(static_cast<bool>(Tensor::scalar(0)));
  EXPECT_NE(error_of([] { (void)static_cast<bool>(kiln::ones({2})); }).find("ambiguous"), std::string::npos);
}

TEST(FunctionVariables, CreatedOnTheFirstTraceAreKept) {
  kiln::nn::Dense lazy(3, {.kernel_initializer = kiln::nn::initializers::glorot_uniform(7)}, "lazy");
  auto f = kiln::function([&](const Tensor& x) { return lazy(x); });
  Tensor x = random_tensor({5, 4}, 9);
  Tensor got = f(x);
  ASSERT_EQ(lazy.trainable_variables().size(), 2u);
  EXPECT_EQ(lazy.trainable_variables()[0].shape(), (Shape{4, 3}));
  EXPECT_FALSE(lazy.trainable_variables()[0].is_symbolic());
  expect_close(got, lazy(x));  // the same variables, eagerly
  expect_close(f(random_tensor({5, 4}, 10)), lazy(random_tensor({5, 4}, 10)));
  EXPECT_EQ(f.trace_count(), 1);
  // The graph reads the variables; it does not run their initializers again.
  EXPECT_EQ(f.graph_text(x).find("random"), std::string::npos) << f.graph_text(x);
}

TEST(FunctionVariables, CreatingOneOnALaterTraceThrows) {
  std::vector<Variable> made;
  auto f = kiln::function([&](const Tensor& x) {
    made.emplace_back(kiln::zeros(x.shape()), true, "v" + std::to_string(made.size()));
    return x + made.back();
  });
  f(random_tensor({2}, 1));
  EXPECT_EQ(made.size(), 1u);
  std::string msg = error_of([&] { f(random_tensor({3}, 1)); });
  EXPECT_NE(msg.find("non-first call"), std::string::npos) << msg;
  EXPECT_NE(msg.find("variable 'v1'"), std::string::npos) << msg;
}

TEST(FunctionVariables, InitialValueFromAnArgumentThrows) {
  auto f = kiln::function([](const Tensor& x) { Variable v(x * 2.0); return v + 1.0; });
  std::string msg = error_of([&] { f(random_tensor({2}, 1)); });
  EXPECT_NE(msg.find("depends on argument 0"), std::string::npos) << msg;
}

TEST(FunctionFootguns, HostRandomBranchIsBakedAtTraceTime) {
  // The article's "dynamic" model: a host coin flip picks the branch, decided once when traced.
  std::mt19937 rng(1234);
  std::vector<bool> draws;
  auto f = kiln::function([&](const Tensor& x) {
    bool deep = rng() % 2 == 0;
    draws.push_back(deep);
    return deep ? kiln::relu(x) * 10.0 : -x;
  });
  Tensor x = random_tensor({6}, 2);
  Tensor first = f(x);
  for (int i = 0; i < 20; ++i) expect_close(f(x), first);
  ASSERT_EQ(draws.size(), 1u);  // drawn once, while tracing
  expect_close(first, draws[0] ? kiln::relu(x) * 10.0 : -x);
}

// ---- Retracing ----

TEST(FunctionRetrace, ReasonsNameTheArgumentAndBothValues) {
  auto f = kiln::function([](const Tensor& x, int k) { return x * static_cast<double>(k); }, {.name = "scaled"});
  f(random_tensor({16, 4}, 1), 3);
  f(random_tensor({16, 4}, 2), 3);
  f(random_tensor({8, 4}, 3), 3);
  f(random_tensor({8, 4}, 3), 4);
  f(kiln::cast(random_tensor({8, 4}, 3), DType::Float64), 4);
  EXPECT_EQ(f.trace_count(), 4);
  std::string e = f.explain();
  EXPECT_NE(e.find("'scaled': 5 calls, 4 traces"), std::string::npos) << e;
  EXPECT_NE(e.find("(first call)"), std::string::npos) << e;
  EXPECT_NE(e.find("arg 0: shape [16,4] -> [8,4]"), std::string::npos) << e;
  EXPECT_NE(e.find("arg 1: value 3 -> 4"), std::string::npos) << e;
  EXPECT_NE(e.find("arg 0: dtype float32 -> float64"), std::string::npos) << e;
  EXPECT_NE(e.find("(float32[16,4], int 3)"), std::string::npos) << e;
}

TEST(FunctionRetrace, InputSignatureMinusOneAcceptsASmallerBatch) {
  Variable w(random_tensor({4, 3}, 1), true, "w");
  auto body = [&](const Tensor& x) {
    Tensor y = kiln::reshape(kiln::matmul(x, w), {-1});  // host-resolved -1: follows the batch
    return kiln::reduce_mean(y) + kiln::reduce_sum(kiln::ones_like(x));
  };
  auto f = kiln::function(body, {.input_signature = {TensorSpec{{-1, 4}}}});
  for (int64_t n : {16, 8, 3, 16}) {
    Tensor x = random_tensor({n, 4}, static_cast<uint64_t>(n));
    expect_close(f(x), body(x));
  }
  EXPECT_EQ(f.trace_count(), 1);
  std::string msg = error_of([&] { f(random_tensor({8, 5}, 1)); });
  EXPECT_NE(msg.find("does not fit the input_signature's float32[-1,4]"), std::string::npos) << msg;
}

// Note [Symbolic dims]: host code that reads a -1 dim's size as a number makes the trace depend
// on it (a guard): every new size is traced again and compiled for itself, and explain() names
// the read. No call runs a graph built for another size.
TEST(FunctionRetrace, MinusOneDimUsedOnTheHostIsTracedPerSizeNeverGuessed) {
  int host_runs = 0;
  auto body = [&](const Tensor& x) {
    ++host_runs;
    int64_t rows = std::min<int64_t>(x.dim(0), 8);  // a number the graph cannot compute
    return kiln::reduce_sum(kiln::slice(x, {0, 0}, {rows, 4}));
  };
  auto f = kiln::function(body, {.name = "head", .input_signature = {TensorSpec{{-1, 4}}}});
  for (int64_t n : {16, 4, 16, 12}) {
    Tensor x = random_tensor({n, 4}, static_cast<uint64_t>(n));
    int before = host_runs;
    Tensor want = body(x);
    host_runs = before;
    expect_close(f(x), want);
  }
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_EQ(host_runs, 3) << "the trace at 16, then one trace per new size (4, 12)";
  std::string e = f.explain();
  EXPECT_NE(e.find("the trace depends on the sizes of the -1 dims: the function's host code reads the size s0 as a "
                   "number (s0 is argument 0 dim 0)"),
            std::string::npos) << e;
  EXPECT_NE(e.find("2 traces for new sizes of the -1 dims"), std::string::npos) << e;
  EXPECT_NE(e.find("-1 dims = [4] (traced again): compiled per size: the trace depends on the sizes"), std::string::npos) << e;
  EXPECT_EQ(f.compile_count(), 3) << e;
}

// The reproducers: counts built from two -1 dims (or a -1 dim squared) were baked in
// as constants at the placeholder sizes (compiled 3.6e-11 for eager's 4). With symbolic dims
// they are computed from each call's sizes, in one compiled code.
TEST(FunctionDynamicDims, CountsOfProductsOfMinusOneDimsFollowEveryCall) {
  auto gram = kiln::function([](const Tensor& a) { return kiln::reduce_mean(kiln::matmul(a, a, false, true)); },
                             {.name = "gram_mean", .input_signature = {TensorSpec{{-1, 4}}}});
  auto cross = kiln::function([](const Tensor& a, const Tensor& b) { return kiln::reduce_mean(kiln::matmul(a, b, false, true)); },
                              {.name = "cross_mean", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1, 4}}}});
  auto outer = kiln::function(
      [](const Tensor& v) { return kiln::reduce_mean(kiln::reshape(v, {-1, 1}) * kiln::reshape(v, {1, -1})); },
      {.name = "outer_mean", .input_signature = {TensorSpec{{-1}}}});
  EXPECT_NEAR(gram(kiln::ones({3, 4})).item<double>(), 4.0, 1e-6);
  for (int64_t n : {3, 5, 1, 8}) {
    Tensor a = random_tensor({n, 4}, static_cast<uint64_t>(n)), b = random_tensor({n + 2, 4}, static_cast<uint64_t>(n + 50));
    Tensor v = random_tensor({n}, static_cast<uint64_t>(n + 90));
    expect_close(gram(a), kiln::reduce_mean(kiln::matmul(a, a, false, true)));
    expect_close(cross(a, b), kiln::reduce_mean(kiln::matmul(a, b, false, true)));
    expect_close(outer(v), kiln::reduce_mean(kiln::reshape(v, {-1, 1}) * kiln::reshape(v, {1, -1})));
  }
  EXPECT_EQ(gram.compile_count(), 1) << gram.explain();
  EXPECT_EQ(cross.compile_count(), 1) << cross.explain();
  EXPECT_EQ(outer.compile_count(), 1) << outer.explain();
  EXPECT_EQ(gram.explain().find("depends on the sizes"), std::string::npos) << gram.explain();
}

// Two -1 dims that do not match are reported with the user's sizes, not a trace's.
TEST(FunctionDynamicDims, MismatchedMinusOneDimsNameTheUsersSizes) {
  auto f = kiln::function([](const Tensor& a, const Tensor& b) { return a + b; },
                          {.name = "add", .input_signature = {TensorSpec{{-1}}, TensorSpec{{-1}}}});
  expect_close(f(random_tensor({4}, 1), random_tensor({4}, 2)), random_tensor({4}, 1) + random_tensor({4}, 2));
  std::string msg = error_of([&] { f(random_tensor({5}, 1), random_tensor({6}, 2)); });
  EXPECT_NE(msg.find("add: shapes [5] and [6] cannot be broadcast (dimension 0: 5 vs 6; argument 0 dim 0 is 5, argument 1 "
                     "dim 0 is 6)"),
            std::string::npos) << msg;
}

// ---- -1 dims compiled once (Note [One compiled code for every size]) ----

TEST(FunctionDynamicDims, ReshapeOfAMinusOneDimSharesTheCode) {
  Variable w(random_tensor({2, 3}, 1), true, "w");
  auto body = [&](const Tensor& x) {  // [N,4] -> [2N,2] -> matmul -> [6N] -> back to [N,6]
    Tensor y = kiln::matmul(kiln::reshape(x, {-1, 2}), w);
    Tensor flat = kiln::reshape(y, {-1});
    return std::make_pair(kiln::reshape(kiln::relu(flat), {-1, 6}), kiln::reduce_sum(flat));
  };
  auto f = kiln::function(body, {.name = "reshaped", .input_signature = {TensorSpec{{-1, 4}}}});
  for (int64_t n : {6, 3, 1, 6}) {
    Tensor x = random_tensor({n, 4}, static_cast<uint64_t>(n));
    auto [a, b] = f(x);
    auto [wa, wb] = body(x);
    expect_close(a, wa);
    expect_close(b, wb);
  }
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
  EXPECT_NE(f.explain().find("shared by -1 dims = [6] [3] [1]"), std::string::npos) << f.explain();
  std::string traced = f.lower(kiln::Stage::Traced, random_tensor({2, 4}, 1));
  EXPECT_NE(traced.find("tensor<?x2xf32>"), std::string::npos) << traced;
}

// The 1/N of a mean over the -1 dim (forward) and of its gradient are computed from each call's
// N: a constant baked at the first size would make every other size wrong by a factor.
TEST(FunctionDynamicDims, MeanOverTheMinusOneDimDividesByEachCallsSize) {
  Variable w(random_tensor({3}, 2), true, "w");
  auto body = [&](const Tensor& x) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::reduce_mean(x * w, {0}));  // over N, then over 3
    Tensor g = tape.gradient(loss, {w})[0];
    return std::make_pair(loss, g);
  };
  auto f = kiln::function(body, {.name = "mean", .input_signature = {TensorSpec{{-1, 3}}}});
  for (int64_t n : {4, 7, 1, 4}) {
    Tensor x = random_tensor({n, 3}, static_cast<uint64_t>(10 + n));
    auto [loss, g] = f(x);
    // Plain reference: loss = sum(x*w) / (3n), dloss/dw_j = sum_i x_ij / (3n).
    std::vector<float> xv = x.to_vector<float>(), wv = w.to_vector<float>();
    double want_loss = 0;
    std::vector<double> want_g(3, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 3; ++j) {
        want_loss += xv[static_cast<size_t>(i * 3 + j)] * wv[static_cast<size_t>(j)];
        want_g[static_cast<size_t>(j)] += xv[static_cast<size_t>(i * 3 + j)];
      }
    EXPECT_NEAR(loss.item<double>(), want_loss / (3.0 * static_cast<double>(n)), 1e-5) << "n = " << n;
    std::vector<double> got_g = g.to_vector<double>();
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(got_g[static_cast<size_t>(j)], want_g[static_cast<size_t>(j)] / (3.0 * static_cast<double>(n)), 1e-5)
          << "n = " << n << ", j = " << j;
  }
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
}

TEST(FunctionDynamicDims, TwoMinusOneClassesShareTheCode) {
  Variable w(random_tensor({4, 3}, 3), true, "w");
  auto body = [&](const Tensor& x, const Tensor& z) {  // x: [N,4], z: [M,3], N != M
    return kiln::reduce_mean(kiln::matmul(x, w), {0}) + kiln::reduce_sum(z * 2.0, {0});
  };
  auto f = kiln::function(body, {.name = "two", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}});
  for (auto [n, m] : std::vector<std::pair<int64_t, int64_t>>{{5, 3}, {8, 2}, {2, 7}, {5, 3}}) {
    Tensor x = random_tensor({n, 4}, static_cast<uint64_t>(n)), z = random_tensor({m, 3}, static_cast<uint64_t>(100 + m));
    expect_close(f(x, z), body(x, z));
  }
  EXPECT_EQ(f.trace_count(), 1);
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
  EXPECT_NE(f.explain().find("shared by -1 dims = [5,3] [8,2] [2,7]"), std::string::npos) << f.explain();
}

TEST(FunctionDynamicDims, ASizeOfZeroCompilesPerSize) {
  auto body = [](const Tensor& x) { return kiln::reduce_sum(x * 2.0, {0}); };
  auto f = kiln::function(body, {.name = "empty", .input_signature = {TensorSpec{{-1, 3}}}});
  for (int64_t n : {4, 0, 2}) {
    Tensor x = random_tensor({n, 3}, 5);
    expect_close(f(x), body(x));
  }
  EXPECT_EQ(f.compile_count(), 2) << f.explain();
  EXPECT_NE(f.explain().find("-1 dims = [0] (traced again): compiled per size: a -1 dim is 0"), std::string::npos)
      << f.explain();
}

TEST(FunctionDynamicDims, OpWithoutADynamicLoweringCompilesPerSizeAndSaysSo) {
  // A concat whose axis is a -1 dim keeps it symbolic (2*s0) only where it needs no offset: the
  // second piece's offset is the call's size, which the literal-offset lowering cannot follow.
  auto body = [](const Tensor& x) { return kiln::reduce_sum(kiln::concat({x, x}, 1)) + kiln::reduce_sum(kiln::concat({x, x}, 0)); };
  auto f = kiln::function(body, {.name = "concat", .input_signature = {TensorSpec{{-1, 2}}}});
  for (int64_t n : {3, 5}) {
    Tensor x = random_tensor({n, 2}, static_cast<uint64_t>(n));
    expect_close(f(x), body(x));
  }
  EXPECT_EQ(f.compile_count(), 2) << f.explain();
  EXPECT_NE(f.explain().find("the trace depends on the sizes of the -1 dims: concat reads the size s0 as a number"),
            std::string::npos)
      << f.explain();
  EXPECT_NE(f.explain().find("-1 dims = [5] (traced again): compiled per size: the trace depends on the sizes"), std::string::npos)
      << f.explain();
}

// A -1 dim as the class count of a sparse cross-entropy: its label range check cannot follow
// it, so compiling the template fails and each size gets its own code (still correct).
TEST(FunctionDynamicDims, RangeCheckOverAMinusOneDimCompilesPerSize) {
  auto body = [](const Tensor& labels, const Tensor& logits) {
    return kiln::reduce_sum(kiln::sparse_softmax_cross_entropy_with_logits(labels, logits));
  };
  auto f = kiln::function(body, {.name = "classes", .input_signature = {std::nullopt, TensorSpec{{2, -1}}}});
  Tensor labels = Tensor::from_vector<int64_t>({1, 2});
  for (int64_t classes : {3, 5}) {
    Tensor logits = random_tensor({2, classes}, static_cast<uint64_t>(classes));
    expect_close(f(labels, logits), body(labels, logits));
  }
  EXPECT_EQ(f.compile_count(), 2) << f.explain();
  // Known before compiling (positional_gap), not from a failed shared compile.
  EXPECT_NE(f.explain().find("the label range check's limit, the classes, is a literal"), std::string::npos)
      << f.explain();
  EXPECT_EQ(f.explain().find("compiling failed"), std::string::npos) << f.explain();
  EXPECT_NE(kiln::test::error_of([&] { f(Tensor::from_vector<int64_t>({1, 3}), random_tensor({2, 3}, 1)); })
                .find("label 3 at row 1 is outside [0, 3)"),
            std::string::npos);
}

TEST(FunctionRetrace, MinusOneDimHostTensorIsTracedPerSize) {
  auto body = [](const Tensor& x) {  // a host-built tensor with as many rows as the batch
    return x * Tensor::from_vector(std::vector<float>(static_cast<size_t>(x.dim(0)), 2.0f), {x.dim(0), 1});
  };
  auto f = kiln::function(body, {.input_signature = {TensorSpec{{-1, 3}}}});
  for (int64_t n : {5, 2}) {
    Tensor x = random_tensor({n, 3}, 7);
    expect_close(f(x), body(x));
  }
  EXPECT_EQ(f.compile_count(), 2) << f.explain();
  EXPECT_NE(f.explain().find("the function's host code reads the size s0 as a number (s0 is argument 0 dim 0)"),
            std::string::npos)
      << f.explain();
}

TEST(FunctionRetrace, FiveRetracesInTenCallsWarnOnce) {
  auto f = kiln::function([](const Tensor& x) { return x + 1.0; }, {.name = "shapes"});
  testing::internal::CaptureStderr();
  for (int64_t n = 1; n <= 5; ++n) f(random_tensor({n}, 1));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");  // 4 retraces
  testing::internal::CaptureStderr();
  for (int64_t n = 6; n <= 9; ++n) f(random_tensor({n}, 1));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("kiln::function 'shapes': 5 retraces"), std::string::npos) << err;
  EXPECT_NE(err.find("input_signature"), std::string::npos) << err;
  EXPECT_EQ(err.find("retraces", err.find("retraces") + 1), std::string::npos) << "warned once: " << err;
}

// ---- Aliasing ----

TEST(FunctionAliasing, VariableArgumentThatIsAlsoCapturedBehavesLikeEager) {
  auto run = [](bool traced) {
    Variable v(Tensor::from_vector<float>({1, 2, 3}), true, "v");
    auto body = [&](const Variable& arg, const Tensor& x) {
      Tensor before = arg * 1.0;  // read through the argument
      arg.assign_add(x);          // write through the argument
      Tensor after = v * 1.0;     // read through the capture: sees the write
      v.assign(after * 2.0);
      return std::make_tuple(before, after, arg + 0.0);
    };
    std::vector<Tensor> outs;
    if (traced) {
      auto f = kiln::function(body);
      for (int i = 0; i < 3; ++i) {
        auto [a, b, c] = f(v, Tensor::from_vector<float>({1, 1, 1}));
        outs.insert(outs.end(), {a, b, c});
      }
      EXPECT_EQ(f.trace_count(), 1);
    } else {
      for (int i = 0; i < 3; ++i) {
        auto [a, b, c] = body(v, Tensor::from_vector<float>({1, 1, 1}));
        outs.insert(outs.end(), {a, b, c});
      }
    }
    outs.push_back(v);
    return outs;
  };
  std::vector<Tensor> eager = run(false), traced = run(true);
  for (size_t i = 0; i < eager.size(); ++i) expect_close(traced[i], eager[i]);
}

// An in-place op writes the inputs its row says (op_table.def's effects): apply_adam its var, m
// and v, not a Variable passed as its gradient or learning rate, which the trace once marked
// written too.
TEST(FunctionAliasing, ApplyAdamWritesItsVarAndSlotsOnly) {
  auto run = [](bool traced) {
    Variable var(Tensor::from_vector<float>({1, 2}), true, "var"), m(kiln::zeros({2}), false, "m"),
        v(kiln::zeros({2}), false, "v"), grad(Tensor::from_vector<float>({0.5, -0.5}), true, "grad"),
        lr(Tensor::scalar(0.25f), false, "lr");
    auto body = [&](const Tensor& scale) {
      kiln::apply_adam(var, m, v, grad, lr, 0.9, 0.999, 1e-7);
      return std::make_tuple(grad * scale, lr * scale);
    };
    std::vector<Tensor> outs;
    auto f = kiln::function(body);
    for (int i = 0; i < 3; ++i) {
      auto [g, r] = traced ? f(Tensor::scalar(2.0f)) : body(Tensor::scalar(2.0f));
      outs.insert(outs.end(), {g, r});
    }
    if (traced) {
      EXPECT_NE(f.explain().find("compiled in"), std::string::npos) << f.explain();
    }
    outs.insert(outs.end(), {var, m, v, grad, lr});
    return outs;
  };
  std::vector<Tensor> eager = run(false), traced = run(true);
  for (size_t i = 0; i < eager.size(); ++i) expect_close(traced[i], eager[i]);
  expect_close(eager.back(), Tensor::scalar(0.25f));
}

TEST(FunctionAliasing, ArgumentThatIsAlsoCapturedAndOldVersionsKeepTheirValues) {
  Tensor c = random_tensor({3}, 4);
  Variable v(Tensor::from_vector<float>({1, 2, 3}), true, "v");
  auto f = kiln::function([&](const Tensor& x) {
    Tensor old = v + 0.0;   // read before the write...
    Tensor returned = v.assign_add(x) * 1.0;
    return std::make_tuple(x + c, old, returned);
  });
  auto [sum, old, now] = f(c);  // the captured tensor is also the argument
  expect_close(sum, c + c);
  expect_close(old, Tensor::from_vector<float>({1, 2, 3}));
  expect_close(now, Tensor::from_vector<float>({1, 2, 3}) + c);
  expect_close(v, now);
}

// Note [Compiled calling convention]: the compiled code writes a variable in place, so every
// other handle on its storage (a result that aliased it, an argument made from one) is copied
// away first and keeps its value, on the cached calls as on the first.
TEST(FunctionAliasing, HandlesSharingAVariablesStorageKeepTheirValueOnEveryCall) {
  Variable v(Tensor::from_vector<float>({1, 2, 3}), true, "v");
  auto add = kiln::function([&](const Tensor& x) { return Tensor(v.assign_add(x)); });
  auto add_and_scale = kiln::function([&](const Tensor& x) {
    v.assign_add(x);
    return x * 2.0;
  });
  const Tensor one = Tensor::from_vector<float>({1, 1, 1});
  std::vector<Tensor> results;
  for (int i = 0; i < 4; ++i) results.push_back(add(one));  // each aliases v's storage when returned
  for (int i = 0; i < 4; ++i) {
    expect_close(results[static_cast<size_t>(i)],
                 Tensor::from_vector<float>({2.0f + i, 3.0f + i, 4.0f + i}));
  }
  // The argument is the previous result, on v's storage: read before the write.
  Tensor x = results.back();  // 5,6,7 (= v)
  for (int i = 0; i < 3; ++i) {
    const std::vector<float> before = v.to_vector<float>(), arg = x.to_vector<float>();
    Tensor doubled = add_and_scale(x);
    std::vector<float> want_v(3), want_doubled(3);
    for (size_t k = 0; k < 3; ++k) {
      want_v[k] = before[k] + arg[k];
      want_doubled[k] = 2 * arg[k];
    }
    expect_close(doubled, Tensor::from_vector(want_doubled));
    expect_close(v, Tensor::from_vector(want_v));
    expect_close(x, Tensor::from_vector(arg));  // the argument kept its value
    x = add(one);  // again on v's storage
  }
  EXPECT_EQ(add.trace_count(), 1);
  EXPECT_EQ(add_and_scale.trace_count(), 1);
}

// Note [Descriptor cache]: each thread keeps the call buffers of the compiled code it ran last;
// calls alternating between functions and -1 sizes, and calls from another thread, still pass
// each call's own tensors and sizes.
TEST(FunctionCompiled, CallsAlternatingBetweenFunctionsSizesAndThreads) {
  const std::vector<std::optional<TensorSpec>> rows_by_3 = {TensorSpec{{-1, 3}}};
  auto scale = kiln::function([](const Tensor& x) { return x * 2.0; }, {.name = "scale", .input_signature = rows_by_3});
  // A captured constant: shift's code takes one more descriptor than scale's.
  const Tensor offset = Tensor::from_vector<float>({1, 2, 3});
  auto shift = kiln::function([&](const Tensor& x) { return x + offset; }, {.name = "shift", .input_signature = rows_by_3});
  auto check = [&](int64_t rows, uint64_t seed) {
    Tensor x = random_tensor({rows, 3}, seed);
    std::vector<float> v = x.to_vector<float>(), twice(v.size()), plus(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      twice[i] = 2 * v[i];
      plus[i] = v[i] + static_cast<float>(i % 3 + 1);
    }
    expect_close(scale(x), Tensor::from_vector(twice, Shape{rows, 3}));
    expect_close(shift(x), Tensor::from_vector(plus, Shape{rows, 3}));
  };
  for (int64_t rows : {4, 4, 2, 4, 7, 2}) check(rows, static_cast<uint64_t>(rows));
  std::thread other([&] {
    for (int64_t rows : {3, 5, 3}) check(rows, static_cast<uint64_t>(10 + rows));
  });
  other.join();
  check(4, 99);
  EXPECT_EQ(scale.compile_count(), 1) << scale.explain();
  EXPECT_EQ(shift.compile_count(), 1) << shift.explain();
}

// ---- The iris training step ----

kiln::nn::Sequential iris_model(uint64_t seed) {
  using kiln::nn::Dense;
  namespace init = kiln::nn::initializers;
  kiln::nn::Sequential m;
  m.add(Dense(20, {.activation = kiln::nn::activations::relu, .kernel_initializer = init::glorot_uniform(seed),
                   .input_dim = 4}));
  m.add(Dense(20, {.activation = kiln::nn::activations::relu, .kernel_initializer = init::glorot_uniform(seed + 1),
                   .input_dim = 20}));
  m.add(Dense(3, {.kernel_initializer = init::glorot_uniform(seed + 2), .input_dim = 20}));
  return m;
}

Tensor iris_step(kiln::nn::Sequential& model, kiln::optim::Adam& opt, const Tensor& x, const Tensor& y) {
  kiln::GradientTape tape;
  Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(y, model(x)));
  std::vector<Variable> vars = model.trainable_variables();
  opt.apply_gradients(tape.gradient(loss, vars), vars);
  return loss;
}

void run_iris(const std::vector<int64_t>& batches, const std::vector<std::optional<TensorSpec>>& signature,
              int expected_traces) {
  kiln::nn::Sequential eager_model = iris_model(42), traced_model = iris_model(42);
  kiln::optim::Adam eager_opt({.learning_rate = 0.01}), traced_opt({.learning_rate = 0.01});
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return iris_step(traced_model, traced_opt, x, y); },
                             {.name = "iris_step", .input_signature = signature});
  for (size_t s = 0; s < batches.size(); ++s) {
    Tensor x = random_tensor({batches[s], 4}, 100 + s), y = one_hot_labels(batches[s], 200 + s);
    Tensor want = iris_step(eager_model, eager_opt, x, y);
    Tensor got = step(x, y);
    expect_close(got, want);
  }
  std::vector<Variable> a = eager_model.trainable_variables(), b = traced_model.trainable_variables();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) expect_close(b[i], a[i]);
  EXPECT_EQ(traced_opt.iterations(), eager_opt.iterations());
  EXPECT_EQ(step.trace_count(), expected_traces) << step.explain();
  // Note [One compiled code for every size]: every batch size runs the one compiled code.
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  if (!signature.empty()) {  // the template followed every batch size: compiled code is shared
    std::string e = step.explain();
    for (const char* sizes : {"[16]", "[8]", "[5]"})
      EXPECT_NE(e.find(std::string("-1 dims = ") + sizes + ": runs the shared compiled code"),
                std::string::npos) << e;
    EXPECT_NE(e.find("one compiled code for every size of the -1 dims (compiled in"), std::string::npos) << e;
  }
}

TEST(FunctionIris, TenTrainingStepsMatchEager) { run_iris(std::vector<int64_t>(10, 16), {}, 1); }

TEST(FunctionIris, SmallerLastBatchReusesTheTraceAndMatchesEager) {
  run_iris({16, 16, 16, 16, 8, 16, 5}, {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}, 1);
}

TEST(FunctionIris, BatchesOf16_8_5_16CompileOnce) {
  run_iris({16, 8, 5, 16}, {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}, 1);
}

// Note [KILN_VERIFY] for code shared by every size: the eager side runs the graph at the call's
// sizes (graph_at_sizes: the traced graph's shapes are symbolic), and agrees.
TEST(FunctionIris, VerifyModeChecksTheSharedCodeAtEachSize) {
  setenv("KILN_VERIFY", "1", 1);
  run_iris({16, 8, 5, 16}, {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}, 1);
  unsetenv("KILN_VERIFY");
}

TEST(FunctionIris, LazyModelAndAdamSlotsCreatedInTheFirstTrace) {
  using kiln::nn::Dense;
  namespace init = kiln::nn::initializers;
  auto lazy_model = [] {
    kiln::nn::Sequential m;
    m.add(Dense(20, {.activation = kiln::nn::activations::relu, .kernel_initializer = init::glorot_uniform(1)}));
    m.add(Dense(3, {.kernel_initializer = init::glorot_uniform(2)}));
    return m;
  };
  kiln::nn::Sequential eager_model = lazy_model(), traced_model = lazy_model();
  kiln::optim::Adam eager_opt, traced_opt;
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return iris_step(traced_model, traced_opt, x, y); });
  for (uint64_t s = 0; s < 4; ++s) {
    Tensor x = random_tensor({16, 4}, s), y = one_hot_labels(16, s);
    expect_close(step(x, y), iris_step(eager_model, eager_opt, x, y));
  }
  for (size_t i = 0; i < 4; ++i) expect_close(traced_model.trainable_variables()[i], eager_model.trainable_variables()[i]);
  EXPECT_EQ(step.trace_count(), 1);
}

}  // namespace
