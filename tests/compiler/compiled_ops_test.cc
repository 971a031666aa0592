// Every op of the table, compiled (traced into a graph, lowered through MLIR, JIT-run) against
// eager on the same inputs: several shapes (broadcasting included), dtypes and attribute
// variants per op. The table test fails for an op with no case or no lowering, unless it is
// listed as interpreter-only with a reason.
#include <gtest/gtest.h>

#include <limits>

#include "tests/compiler/compiler_test_util.h"
#include "tests/error_of.h"

namespace kiln::test {
namespace {

using Case = void (*)();
std::map<std::string, std::vector<std::pair<const char*, Case>>>& compiled_cases() {
  static std::map<std::string, std::vector<std::pair<const char*, Case>>> r;
  return r;
}
struct Register {
  Register(const char* label, Case fn, std::initializer_list<const char*> ops) {
    for (const char* op : ops) compiled_cases()[op].push_back({label, fn});
  }
};
#define COMPILED_CASE(label, ...)                                                \
  static void label();                                                           \
  static const Register label##_registered(#label, &label, {__VA_ARGS__}); \
  static void label()

/// Ops that kiln::function runs on the interpreter, with the reason. Empty: every op compiles.
const std::map<std::string, std::string> kInterpreterOnly = {};

const DType kNumeric[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64};
const DType kFloats[] = {DType::Float32, DType::Float64};

Tensor rnd(const Shape& s, DType t, double lo = -3, double hi = 3, uint32_t seed = 1) { return random_values(s, t, lo, hi, seed); }

using Bin = Tensor (*)(const Tensor&, const Tensor&);

// A binary op over shape pairs that broadcast, for every dtype in `types`, plus a host scalar.
void binary_cases(const char* name, Bin op, const DType* types, size_t ntypes, double lo, double hi) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{}, {2, 3}}, {{5}, {}}, {{1}, {1}}};
  uint32_t seed = 10;
  for (size_t t = 0; t < ntypes; ++t)
    for (const auto& [sa, sb] : shapes) {
      Tensor a = rnd(sa, types[t], lo, hi, seed++), b = rnd(sb, types[t], lo, hi, seed++);
      compiled_vs_eager(std::string(name) + " " + dtype_name(types[t]) + sa.str() + sb.str(),
                        [op](const std::vector<Tensor>& x) { return std::vector<Tensor>{op(x[0], x[1])}; }, {a, b});
    }
  // A one-element constant operand, inlined into the loop body.
  for (size_t t = 0; t < ntypes; ++t) {
    Tensor a = rnd({2, 3}, types[t], lo, hi, seed++);
    Tensor c = rnd({}, types[t], lo, hi, seed++);
    compiled_vs_eager(std::string(name) + " with a constant, " + dtype_name(types[t]),
                      [op, c](const std::vector<Tensor>& x) { return std::vector<Tensor>{op(x[0], c), op(c, x[0])}; }, {a});
  }
}

COMPILED_CASE(add_cases, "add") { binary_cases("add", kiln::add, kNumeric, 4, -5, 5); }
COMPILED_CASE(sub_cases, "sub") { binary_cases("sub", kiln::sub, kNumeric, 4, -5, 5); }
COMPILED_CASE(mul_cases, "mul") { binary_cases("mul", kiln::mul, kNumeric, 4, -5, 5); }
COMPILED_CASE(maximum_cases, "maximum") { binary_cases("maximum", kiln::maximum, kNumeric, 4, -2, 2); }
COMPILED_CASE(minimum_cases, "minimum") { binary_cases("minimum", kiln::minimum, kNumeric, 4, -2, 2); }
COMPILED_CASE(pow_cases, "pow") {
  binary_cases("pow", kiln::pow, kFloats, 2, 0.5, 2);  // pow takes floats only
}
COMPILED_CASE(div_cases, "div") {
  binary_cases("div", kiln::div, kFloats, 2, 0.5, 3);
  // Integers: truncation toward zero, negative operands, x / -1 (INT_MIN wraps).
  for (DType t : {DType::Int32, DType::Int64}) {
    Tensor a = Tensor::from_vector(std::vector<int64_t>{7, -7, 7, -7, 0, 5}, Shape{6});
    Tensor b = Tensor::from_vector(std::vector<int64_t>{2, 2, -2, -2, 3, -1}, Shape{6});
    compiled_vs_eager(std::string("div ") + dtype_name(t),
                      [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::div(x[0], x[1])}; },
                      {kiln::cast(a, t), kiln::cast(b, t)});
  }
  Tensor imin = Tensor::from_vector(std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 3}, Shape{2});
  compiled_vs_eager("div INT_MIN / -1",
                    [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::div(x[0], x[1])}; },
                    {imin, Tensor::from_vector(std::vector<int32_t>{-1, -1}, Shape{2})});
}

COMPILED_CASE(comparison_cases, "equal", "not_equal", "less", "greater") {
  const std::pair<const char*, Bin> ops[] = {
      {"equal", kiln::equal}, {"not_equal", kiln::not_equal}, {"less", kiln::less}, {"greater", kiln::greater}};
  const DType all[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool};
  for (const auto& [name, op] : ops) binary_cases(name, op, all, 5, -2, 2);  // small ranges: ties happen
}

COMPILED_CASE(where_cases, "where") {
  for (DType t : {DType::Float32, DType::Int64, DType::Bool}) {
    compiled_vs_eager(std::string("where ") + dtype_name(t),
                      [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::where(x[0], x[1], x[2])}; },
                      {rnd({3, 1}, DType::Bool, 0, 2, 1), rnd({3, 4}, t, -3, 3, 2), rnd({4}, t, -3, 3, 3)});
  }
  compiled_vs_eager("where scalar cond", [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::where(x[0], x[1], x[2])}; },
                    {Tensor::scalar(true), rnd({2, 2}, DType::Float32), rnd({2, 2}, DType::Float32, -3, 3, 5)});
}

using Un = Tensor (*)(const Tensor&);
void unary_cases(const char* name, Un op, const DType* types, size_t ntypes, double lo, double hi) {
  uint32_t seed = 40;
  for (size_t t = 0; t < ntypes; ++t)
    for (const Shape& s : {Shape{3, 5}, Shape{}, Shape{2, 3, 4}, Shape{0, 3}})
      compiled_vs_eager(std::string(name) + " " + dtype_name(types[t]) + s.str(),
                        [op](const std::vector<Tensor>& x) { return std::vector<Tensor>{op(x[0])}; },
                        {rnd(s, types[t], lo, hi, seed++)});
}

COMPILED_CASE(neg_cases, "neg") { unary_cases("neg", kiln::neg, kNumeric, 4, -5, 5); }
COMPILED_CASE(square_cases, "square") { unary_cases("square", kiln::square, kNumeric, 4, -5, 5); }
COMPILED_CASE(abs_cases, "abs") { unary_cases("abs", kiln::abs, kNumeric, 4, -5, 5); }
COMPILED_CASE(relu_cases, "relu") { unary_cases("relu", kiln::relu, kNumeric, 4, -5, 5); }
COMPILED_CASE(exp_cases, "exp") { unary_cases("exp", kiln::exp, kFloats, 2, -5, 5); }
COMPILED_CASE(log_cases, "log") { unary_cases("log", kiln::log, kFloats, 2, 0.01, 10); }
COMPILED_CASE(sqrt_cases, "sqrt") { unary_cases("sqrt", kiln::sqrt, kFloats, 2, 0, 10); }
COMPILED_CASE(rsqrt_cases, "rsqrt") { unary_cases("rsqrt", kiln::rsqrt, kFloats, 2, 0.01, 10); }
COMPILED_CASE(sigmoid_cases, "sigmoid") { unary_cases("sigmoid", kiln::sigmoid, kFloats, 2, -12, 12); }
COMPILED_CASE(tanh_cases, "tanh") { unary_cases("tanh", kiln::tanh, kFloats, 2, -6, 6); }

COMPILED_CASE(relu_grad_cases, "relu_grad") {
  for (DType t : kNumeric)
    compiled_vs_eager(std::string("relu_grad ") + dtype_name(t),
                      [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::relu_grad(x[0], x[1])}; },
                      {rnd({4, 5}, t, -3, 3, 1), rnd({4, 5}, t, -3, 3, 2)});
}

COMPILED_CASE(dropout_cases, "dropout") {
  for (DType t : kFloats)
    for (double rate : {0.0, 0.3, 0.75}) {
      // Chained with neighbours (elementwise fusion merges them); u has values at the rate too.
      Tensor u = rnd({6, 7}, t, 0, 1, 4);
      compiled_vs_eager(std::string("dropout ") + dtype_name(t) + " rate " + std::to_string(rate),
                        [rate](const std::vector<Tensor>& x) {
                          return std::vector<Tensor>{kiln::dropout_with_uniform(kiln::relu(x[0]) * 2.0, x[1], rate) + 1.0};
                        },
                        {rnd({6, 7}, t, -3, 3, 3), kiln::where(kiln::less(u, kiln::fill({6, 7}, 0.1, t)), kiln::fill({6, 7}, rate, t), u)});
    }
}

COMPILED_CASE(cast_cases, "cast") {
  const DType all[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool};
  for (DType from : all)
    for (DType to : all)
      compiled_vs_eager(std::string("cast ") + dtype_name(from) + " -> " + dtype_name(to),
                        [to](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::cast(x[0], to)}; },
                        {rnd({3, 4}, from, -100, 100, 7)});
}

// Logits of [rows, columns] whose first row starts with -inf and whose second row is all -inf
// (masks: compiled code's row sum of exp starts from the first finite element, Note [Online
// softmax statistics] in GraphToLinalgReduce.cc).
Tensor masked_logits(DType t, uint32_t seed) {
  std::vector<double> v = rnd({4, 5}, DType::Float64, -5, 5, seed).to_vector<double>();
  const double inf = std::numeric_limits<double>::infinity();
  v[0] = -inf;
  for (int j = 5; j < 10; ++j) v[static_cast<size_t>(j)] = -inf;
  return kiln::cast(Tensor::from_vector(v, Shape{4, 5}), t);
}

COMPILED_CASE(softmax_cases, "softmax", "log_softmax") {
  auto softmax = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::softmax(x[0])}; };
  auto log_softmax = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::log_softmax(x[0])}; };
  for (DType t : kFloats) {
    for (const Shape& s : {Shape{4, 5}, Shape{2, 3, 4}, Shape{6}, Shape{3, 1}}) {
      compiled_vs_eager(std::string("softmax ") + dtype_name(t) + s.str(), softmax, {rnd(s, t, -20, 20, 3)});
      compiled_vs_eager(std::string("log_softmax ") + dtype_name(t) + s.str(), log_softmax, {rnd(s, t, -20, 20, 4)});
    }
    // Large logits (the max subtraction at work) and masked rows.
    compiled_vs_eager(std::string("softmax of large logits ") + dtype_name(t), softmax, {rnd({4, 6}, t, 1e4 - 20, 1e4 + 20, 5)});
    compiled_vs_eager(std::string("log_softmax of large logits ") + dtype_name(t), log_softmax, {rnd({4, 6}, t, -1e4 - 20, -1e4 + 20, 6)});
    compiled_vs_eager(std::string("softmax of masked rows ") + dtype_name(t), softmax, {masked_logits(t, 7)});
    compiled_vs_eager(std::string("log_softmax of masked rows ") + dtype_name(t), log_softmax, {masked_logits(t, 8)});
  }
}

COMPILED_CASE(softmax_cross_entropy_cases, "softmax_cross_entropy_with_logits") {
  auto f = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::softmax_cross_entropy_with_logits(x[0], x[1])}; };
  for (DType t : kFloats) {
    Tensor labels = kiln::softmax(rnd({8, 3}, t, -2, 2, 5));
    compiled_vs_eager(std::string("softmax_cross_entropy ") + dtype_name(t), f, {labels, rnd({8, 3}, t, -5, 5, 6)});
    // Large logits: eager rounds log-sum-exp to the logits' ulp, and compiled code must too.
    for (double center : {1e4, -1e4, 3e3})
      compiled_vs_eager(std::string("softmax_cross_entropy of logits near ") + std::to_string(center) + " " + dtype_name(t), f,
                        {labels, rnd({8, 3}, t, center - 5, center + 5, 7)});
    // Labels of both signs; masked rows (+inf and NaN losses, as eager).
    compiled_vs_eager(std::string("softmax_cross_entropy of signed labels ") + dtype_name(t), f,
                      {rnd({8, 3}, t, -1, 1, 8), rnd({8, 3}, t, -5, 5, 9)});
    compiled_vs_eager(std::string("softmax_cross_entropy of masked rows ") + dtype_name(t), f,
                      {kiln::softmax(rnd({4, 5}, t, -2, 2, 10)), masked_logits(t, 11)});
  }
  // No classes: a loss of zero per row.
  compiled_vs_eager("softmax_cross_entropy of no classes", f, {rnd({3, 0}, DType::Float32), rnd({3, 0}, DType::Float32)});
}

COMPILED_CASE(sparse_softmax_cross_entropy_cases, "sparse_softmax_cross_entropy_with_logits") {
  auto f = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::sparse_softmax_cross_entropy_with_logits(x[0], x[1])}; };
  for (DType t : kFloats)
    for (DType it : {DType::Int32, DType::Int64})
      compiled_vs_eager(std::string("sparse_softmax_cross_entropy ") + dtype_name(t) + " " + dtype_name(it), f,
                        {rnd({7}, it, 0, 4, 1), rnd({7, 4}, t, -5, 5, 2)});
  for (DType t : kFloats)
    compiled_vs_eager(std::string("sparse_softmax_cross_entropy of large logits ") + dtype_name(t), f,
                      {rnd({7}, DType::Int64, 0, 4, 3), rnd({7, 4}, t, 1e4 - 5, 1e4 + 5, 4)});
  // An out-of-range label: the same error as eager, after the call.
  ir::Graph g = trace_graph("sparse_bad", f, {rnd({3}, DType::Int64, 0, 4, 1), rnd({3, 4}, DType::Float32)});
  auto cg = compiler::CompiledGraph::compile(g);
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 4, -1}, Shape{3});
  EXPECT_EQ(error_of([&] { cg->run({bad, rnd({3, 4}, DType::Float32)}); }),
            error_of([&] { f({bad, rnd({3, 4}, DType::Float32)}); }));
}

COMPILED_CASE(matmul_cases, "matmul") {
  for (DType t : kNumeric)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Shape sa = ta ? Shape{4, 5} : Shape{5, 4}, sb = tb ? Shape{3, 4} : Shape{4, 3};
        auto f = [ta, tb](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(x[0], x[1], ta, tb)}; };
        compiled_vs_eager(std::string("matmul ") + dtype_name(t) + (ta ? " ta" : "") + (tb ? " tb" : ""), f,
                          {rnd(sa, t, -3, 3, 1), rnd(sb, t, -3, 3, 2)});
        Shape ba = ta ? Shape{2, 4, 5} : Shape{2, 5, 4}, bb = tb ? Shape{2, 3, 4} : Shape{2, 4, 3};
        compiled_vs_eager(std::string("batched matmul ") + dtype_name(t) + (ta ? " ta" : "") + (tb ? " tb" : ""), f,
                          {rnd(ba, t, -3, 3, 3), rnd(bb, t, -3, 3, 4)});
      }
  compiled_vs_eager("matmul rank 4", [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(x[0], x[1])}; },
                    {rnd({2, 3, 2, 5}, DType::Float32, -1, 1, 5), rnd({2, 3, 5, 4}, DType::Float32, -1, 1, 6)});
  compiled_vs_eager("matmul of a slice (a strided view)",
                    [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(kiln::slice(x[0], {1, 2}, {4, 3}), x[1], false, true)}; },
                    {rnd({6, 7}, DType::Float32, -1, 1, 5), rnd({5, 3}, DType::Float32, -1, 1, 6)});
  compiled_vs_eager("matmul iris shapes", [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(x[0], x[1])}; },
                    {rnd({32, 4}, DType::Float32, -1, 1, 5), rnd({4, 10}, DType::Float32, -1, 1, 6)});
  // Above LIBXSMM's size and gemm's threading threshold (2^21 multiply-adds): kernels::gemm's
  // row panels, column panels and chunks of k, against eager (which runs the same gemm; a^T b^T
  // compiled as a copy of a^T times b^T).
  struct Large {
    Shape a, b;
  };
  const Large large[] = {{{3000, 40}, {40, 24}}, {{24, 40}, {40, 3000}}, {{24, 6000}, {6000, 20}}, {{150, 130}, {130, 120}}};
  for (DType t : kFloats)
    for (const Large& l : large)
      for (const std::pair<bool, bool>& form :
           {std::pair{false, false}, std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
        const bool ta = form.first, tb = form.second;
        Shape sa = ta ? Shape{l.a[1], l.a[0]} : l.a, sb = tb ? Shape{l.b[1], l.b[0]} : l.b;
        compiled_vs_eager(std::string("large matmul ") + dtype_name(t) + sa.str() + sb.str() + (ta ? " ta" : "") + (tb ? " tb" : ""),
                          [ta, tb](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(x[0], x[1], ta, tb)}; },
                          {rnd(sa, t, -1, 1, 7), rnd(sb, t, -1, 1, 8)});
      }
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Convolutions call the eager kernels from compiled code (Note [Convolutions in compiled code]):
// both paddings, strides 1 and 2 (odd sizes, uneven padding), both float dtypes, a strided view
// as the input (bufferization copies it to a dense buffer), a bias and relu after, a 1x1 filter.
COMPILED_CASE(conv2d_cases, "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter") {
  struct Geometry {
    Shape x, filter;
    std::array<int64_t, 2> strides;
  };
  const Geometry geometries[] = {{{2, 7, 6, 3}, {3, 3, 3, 4}, {1, 1}}, {{2, 7, 6, 3}, {3, 2, 3, 4}, {2, 2}},
                                 {{2, 7, 6, 3}, {2, 3, 3, 2}, {2, 1}},  // unequal strides: their order
                                 {{1, 5, 5, 2}, {1, 1, 2, 3}, {1, 1}}};
  uint32_t seed = 40;
  for (DType t : kFloats)
    for (const Geometry& geo : geometries)
      for (const char* padding : {"valid", "same"}) {
        const std::string label = std::string(dtype_name(t)) + " x " + geo.x.str() + " filter " + geo.filter.str() +
                                  " strides " + std::to_string(geo.strides[0]) + " " + padding;
        const std::array<int64_t, 2> s = geo.strides;
        const std::string p = padding;
        Tensor x = rnd(geo.x, t, -1, 1, seed++), f = rnd(geo.filter, t, -1, 1, seed++);
        const Shape y = kiln::conv2d(x, f, s, p).shape();
        Tensor dy = rnd(y, t, -1, 1, seed++);
        compiled_vs_eager("conv2d " + label, [s, p](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{kiln::conv2d(in[0], in[1], s, p)};
        }, {x, f});
        const Shape xs = geo.x, fs = geo.filter;
        compiled_vs_eager("conv2d_backprop_input " + label, [s, p, xs](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{kiln::conv2d_backprop_input(xs, in[0], in[1], s, p)};
        }, {f, dy});
        compiled_vs_eager("conv2d_backprop_filter " + label, [s, p, fs](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{kiln::conv2d_backprop_filter(in[0], fs, in[1], s, p)};
        }, {x, dy});
      }
  // Note [Contraction epilogues]: the bias add (+ relu) of a conv whose result has no other use
  // runs in the kernel call; both operand orders, both dtypes, stride 2 with same padding. A
  // scale after the add keeps it a loop of its own.
  for (DType t : kFloats) {
    GraphFn f = [](const std::vector<Tensor>& in) {
      Tensor a = kiln::conv2d(in[0], in[1], {2, 2}, "same") + in[2];
      Tensor b = in[2] + kiln::conv2d(in[0], in[1]);
      Tensor c = (kiln::conv2d(in[0], in[1], {1, 2}, "valid") + in[2]) * 2.0;
      return std::vector<Tensor>{kiln::relu(a), b, c};
    };
    std::vector<Tensor> in = {rnd({2, 7, 6, 3}, t, -1, 1, 93), rnd({3, 3, 3, 4}, t, -1, 1, 94), rnd({4}, t, -1, 1, 95)};
    compiled_vs_eager(std::string("conv2d + bias (epilogue) ") + dtype_name(t), f, in);
    const std::string bufferized =
        compiler::CompiledGraph::compile(trace_graph("epilogue", f, in))->stage_text(Stage::Bufferized);
    EXPECT_EQ(count_of(bufferized, "call @kiln_conv2d_bias_"), 2u) << bufferized;
    EXPECT_EQ(count_of(bufferized, "call @kiln_conv2d_f"), 1u) << bufferized;
  }
  compiled_vs_eager("conv2d of a slice, then bias and relu", [](const std::vector<Tensor>& in) {
    Tensor x = kiln::slice(in[0], {1, 1, 0, 0}, {2, 6, 6, 2});
    Tensor y = kiln::conv2d(x, in[1], {1, 1}, "same");
    return std::vector<Tensor>{kiln::relu(y + in[2]), y};
  }, {rnd({4, 8, 7, 2}, DType::Float32, -1, 1, 90), rnd({3, 3, 2, 5}, DType::Float32, -1, 1, 91),
      rnd({5}, DType::Float32, -1, 1, 92)});
}

using Reduce = Tensor (*)(const Tensor&, const Axes&, bool);
void reduce_cases(const char* name, Reduce op) {
  const std::vector<Axes> axes = {{}, {0}, {-1}, {0, 2}, {1}};
  for (DType t : kNumeric)
    for (const Axes& ax : axes)
      for (bool keep : {false, true})
        compiled_vs_eager(std::string(name) + " " + dtype_name(t) + " axes " + ::testing::PrintToString(ax) + (keep ? " keepdims" : ""),
                          [op, ax, keep](const std::vector<Tensor>& x) { return std::vector<Tensor>{op(x[0], ax, keep)}; },
                          {rnd({3, 4, 5}, t, -10, 10, 9)});
  compiled_vs_eager(std::string(name) + " of a long float32 row",
                    [op](const std::vector<Tensor>& x) { return std::vector<Tensor>{op(x[0], {}, false)}; },
                    {rnd({1000}, DType::Float32, -1, 1, 2)});
}
COMPILED_CASE(reduce_sum_cases, "reduce_sum") { reduce_cases("reduce_sum", kiln::reduce_sum); }
COMPILED_CASE(reduce_mean_cases, "reduce_mean") { reduce_cases("reduce_mean", kiln::reduce_mean); }
COMPILED_CASE(reduce_max_cases, "reduce_max") { reduce_cases("reduce_max", kiln::reduce_max); }

COMPILED_CASE(argmax_cases, "argmax") {
  for (DType t : kNumeric)
    for (int64_t axis : {0, 1, -1})
      for (DType out : {DType::Int32, DType::Int64})
        compiled_vs_eager(std::string("argmax ") + dtype_name(t) + " axis " + std::to_string(axis) + " -> " + dtype_name(out),
                          [axis, out](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::argmax(x[0], axis, out)}; },
                          {rnd({4, 3, 5}, t, -2, 2, 11)});  // integers in [-2, 2): ties
}

// Pooling: valid/same, strides 1 and 2, windows 2x2, 3x3 and 2x3, odd sizes, a window larger
// than the input (same); inputs with ties (integers) for the first-maximum rule.
struct PoolCase {
  Shape x;
  std::array<int64_t, 2> k, s;
  const char* padding;
};
const PoolCase kPoolCases[] = {{{2, 5, 7, 3}, {2, 2}, {2, 2}, "valid"}, {{2, 5, 7, 3}, {2, 2}, {2, 2}, "same"},
                               {{1, 6, 5, 2}, {3, 3}, {1, 1}, "valid"}, {{1, 6, 5, 2}, {3, 3}, {1, 1}, "same"},
                               {{2, 7, 7, 4}, {3, 3}, {2, 2}, "same"},  {{1, 4, 5, 1}, {2, 3}, {1, 2}, "same"},
                               {{1, 2, 2, 3}, {3, 3}, {1, 1}, "same"},  {{1, 7, 5, 2}, {2, 2}, {3, 3}, "valid"},
                               {{2, 6, 5, 20}, {2, 2}, {2, 2}, "same"}};
std::string pool_label(const char* op, const PoolCase& p, DType t) {
  return std::string(op) + " " + dtype_name(t) + p.x.str() + " k" + std::to_string(p.k[0]) + "x" + std::to_string(p.k[1]) +
         " s" + std::to_string(p.s[0]) + "x" + std::to_string(p.s[1]) + " " + p.padding;
}

COMPILED_CASE(pool_cases, "max_pool2d", "avg_pool2d") {
  for (DType t : kFloats)
    for (const PoolCase& p : kPoolCases) {
      auto f = [p](const std::vector<Tensor>& x) {
        return std::vector<Tensor>{kiln::max_pool2d(x[0], p.k, p.s, p.padding), kiln::avg_pool2d(x[0], p.k, p.s, p.padding)};
      };
      compiled_vs_eager(pool_label("pools", p, t), f, {rnd(p.x, t, -5, 5, 1)});
      compiled_vs_eager(pool_label("pools with ties", p, t), f, {rnd(p.x, t, 0, 3, 2)});
    }
  // NaN and -inf windows, as eager.
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  compiled_vs_eager("max_pool2d of NaN and -inf", [](const std::vector<Tensor>& x) {
    return std::vector<Tensor>{kiln::max_pool2d(x[0], {2, 2}, {1, 1}, "same")};
  }, {Tensor::from_vector(std::vector<double>{1, nan, 2, 3, -inf, -inf, -inf, -inf, 0}, Shape{1, 3, 3, 1})});
}

COMPILED_CASE(pool_grad_cases, "max_pool2d_grad", "max_pool2d_grad_grad", "avg_pool2d_grad") {
  for (DType t : kFloats)
    for (const PoolCase& p : kPoolCases)
      for (bool ties : {false, true}) {
        Tensor x = rnd(p.x, t, ties ? 0 : -5, ties ? 3 : 5, 3);
        Tensor y = kiln::max_pool2d(x, p.k, p.s, p.padding);
        compiled_vs_eager(pool_label(ties ? "pool grads with ties" : "pool grads", p, t),
                          [p](const std::vector<Tensor>& a) {
                            return std::vector<Tensor>{kiln::max_pool2d_grad(a[0], a[1], a[2], p.k, p.s, p.padding),
                                                       kiln::max_pool2d_grad_grad(a[0], a[1], a[3], p.k, p.s, p.padding),
                                                       kiln::avg_pool2d_grad(a[0].shape(), a[2], p.k, p.s, p.padding)};
                          },
                          {x, y, rnd(y.shape(), t, -2, 2, 4), rnd(p.x, t, -2, 2, 5)});
      }
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Tensor x = Tensor::from_vector(std::vector<double>{1, nan, nan, 3, -inf, -inf, -inf, -inf, 0}, Shape{1, 3, 3, 1});
  Tensor y = kiln::max_pool2d(x, {2, 2}, {1, 1}, "same");
  compiled_vs_eager("max_pool2d_grad of NaN and -inf", [](const std::vector<Tensor>& a) {
    return std::vector<Tensor>{kiln::max_pool2d_grad(a[0], a[1], a[2], {2, 2}, {1, 1}, "same"),
                               kiln::max_pool2d_grad_grad(a[0], a[1], a[3], {2, 2}, {1, 1}, "same")};
  }, {x, y, rnd(y.shape(), DType::Float64, -2, 2, 6), rnd(x.shape(), DType::Float64, -2, 2, 7)});
}

COMPILED_CASE(shape_cases, "reshape", "transpose", "broadcast_to") {
  auto reshape_to = [](std::vector<int64_t> s) {
    return [s](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::reshape(x[0], s)}; };
  };
  compiled_vs_eager("reshape [3,4] -> [2,6]", reshape_to({2, 6}), {rnd({3, 4}, DType::Float32)});
  compiled_vs_eager("reshape [3,4] -> [12]", reshape_to({12}), {rnd({3, 4}, DType::Int32)});
  compiled_vs_eager("reshape [2,3,4] -> [4,-1]", reshape_to({4, -1}), {rnd({2, 3, 4}, DType::Float64)});
  compiled_vs_eager("reshape [1,1] -> []", reshape_to({}), {rnd({1, 1}, DType::Float32)});
  compiled_vs_eager("reshape [] -> [1,1,1]", reshape_to({1, 1, 1}), {rnd({}, DType::Bool)});
  compiled_vs_eager("reshape [6] -> [6]", reshape_to({6}), {rnd({6}, DType::Float32)});
  compiled_vs_eager("reshape then add", [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::reshape(x[0] + 1.0, {4, 3}) * 2.0}; },
                    {rnd({3, 4}, DType::Float32)});
  auto transpose_by = [](std::vector<int64_t> perm) {
    return [perm](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::transpose(x[0], perm)}; };
  };
  compiled_vs_eager("transpose [1,0]", transpose_by({1, 0}), {rnd({3, 4}, DType::Float32)});
  compiled_vs_eager("transpose default", transpose_by({}), {rnd({2, 3, 4}, DType::Int64)});
  compiled_vs_eager("transpose [2,0,1]", transpose_by({2, 0, 1}), {rnd({2, 3, 4}, DType::Float64)});
  compiled_vs_eager("transpose bool", transpose_by({1, 0}), {rnd({2, 5}, DType::Bool)});
  auto broadcast_to = [](Shape s) {
    return [s](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::broadcast_to(x[0], s)}; };
  };
  compiled_vs_eager("broadcast_to [3,1] -> [2,3,4]", broadcast_to({2, 3, 4}), {rnd({3, 1}, DType::Float32)});
  compiled_vs_eager("broadcast_to [] -> [2,2]", broadcast_to({2, 2}), {rnd({}, DType::Int32)});
  compiled_vs_eager("broadcast_to same", broadcast_to({2, 2}), {rnd({2, 2}, DType::Bool)});
  Tensor c = rnd({}, DType::Float32, -1, 1, 3);
  compiled_vs_eager("broadcast_to of a constant", [c](const std::vector<Tensor>&) { return std::vector<Tensor>{kiln::broadcast_to(c, {3})}; }, {});
}

COMPILED_CASE(concat_cases, "concat") {
  for (int64_t axis : {0, 1, -1}) {
    Shape sa{2, 3}, sb{2, 3}, sc{2, 3};
    const int ax = axis < 0 ? 1 : static_cast<int>(axis);
    sb[ax] = 1;
    sc[ax] = 4;
    compiled_vs_eager("concat axis " + std::to_string(axis),
                      [axis](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::concat({x[0], x[1], x[2]}, axis)}; },
                      {rnd(sa, DType::Float32, -1, 1, 1), rnd(sb, DType::Float32, -1, 1, 2), rnd(sc, DType::Float32, -1, 1, 3)});
  }
  compiled_vs_eager("concat int64 rank 1", [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::concat({x[0], x[1]}, 0)}; },
                    {rnd({3}, DType::Int64), rnd({2}, DType::Int64)});
}

COMPILED_CASE(slice_cases, "slice") {
  auto slice = [](std::vector<int64_t> b, std::vector<int64_t> s) {
    return [b, s](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::slice(x[0], b, s) * 2.0}; };
  };
  compiled_vs_eager("slice [1:3, 0:2]", slice({1, 0}, {2, 2}), {rnd({4, 3}, DType::Float32)});
  compiled_vs_eager("slice to the end", slice({0, 1, 2}, {-1, -1, -1}), {rnd({2, 3, 4}, DType::Float64)});
  compiled_vs_eager("slice as an output", [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::slice(x[0], {1}, {2})}; },
                    {rnd({5}, DType::Int32)});
}

COMPILED_CASE(gather_cases, "gather") {
  auto f = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::gather(x[0], x[1])}; };
  for (DType it : {DType::Int32, DType::Int64}) {
    compiled_vs_eager(std::string("gather rows ") + dtype_name(it), f, {rnd({5, 3}, DType::Float32), rnd({4}, it, 0, 5, 2)});
    compiled_vs_eager(std::string("gather rank-2 indices ") + dtype_name(it), f, {rnd({6, 2, 2}, DType::Int64), rnd({2, 3}, it, 0, 6, 3)});
    compiled_vs_eager(std::string("gather from rank 1 ") + dtype_name(it), f, {rnd({6}, DType::Float64), rnd({3}, it, 0, 6, 4)});
  }
  ir::Graph g = trace_graph("gather_bad", f, {rnd({5, 3}, DType::Float32), rnd({4}, DType::Int32, 0, 5, 2)});
  auto cg = compiler::CompiledGraph::compile(g);
  Tensor params = rnd({5, 3}, DType::Float32), bad = Tensor::from_vector(std::vector<int32_t>{1, 5, 2, -1}, Shape{4});
  EXPECT_EQ(error_of([&] { cg->run({params, bad}); }), error_of([&] { f({params, bad}); }));
}

COMPILED_CASE(unsorted_segment_sum_cases, "unsorted_segment_sum") {
  for (DType t : kNumeric)
    for (DType it : {DType::Int32, DType::Int64}) {
      compiled_vs_eager(std::string("unsorted_segment_sum ") + dtype_name(t) + " " + dtype_name(it),
                        [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::unsorted_segment_sum(x[0], x[1], 4)}; },
                        {rnd({6, 3}, t, -5, 5, 1), rnd({6}, it, 0, 4, 2)});
    }
  compiled_vs_eager("unsorted_segment_sum rank-2 ids",
                    [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::unsorted_segment_sum(x[0], x[1], 3)}; },
                    {rnd({2, 3, 2}, DType::Float32), rnd({2, 3}, DType::Int64, 0, 3, 5)});
  compiled_vs_eager("unsorted_segment_sum rank 1",
                    [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::unsorted_segment_sum(x[0], x[1], 5)}; },
                    {rnd({7}, DType::Float64), rnd({7}, DType::Int32, 0, 5, 6)});
}

COMPILED_CASE(one_hot_cases, "one_hot") {
  for (DType t : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool})
    for (DType it : {DType::Int32, DType::Int64})
      compiled_vs_eager(std::string("one_hot -> ") + dtype_name(t) + " from " + dtype_name(it),
                        [t](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::one_hot(x[0], 4, 2.5, -1.0, t)}; },
                        {rnd({2, 3}, it, -1, 5, 3)});  // -1 and 4 are out of range: all-off rows
}

COMPILED_CASE(fill_cases, "fill") {
  for (DType t : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool})
    compiled_vs_eager(std::string("fill ") + dtype_name(t),
                      [t](const std::vector<Tensor>& x) {
                        Tensor f = kiln::fill({3}, 2.0, t);
                        return std::vector<Tensor>{kiln::fill({2, 3}, 1.75, t), t == DType::Bool ? kiln::equal(kiln::cast(x[0], t), f)
                                                                                                 : kiln::cast(x[0], t) + f};
                      },
                      {rnd({2, 3}, DType::Float32, 0, 3, 1)});
}

// Splats (fills, one-element constants) flow through shape ops and float arithmetic at compile
// time; the results must still be eager's.
COMPILED_CASE(splat_cases, "fill", "reshape", "transpose", "broadcast_to", "slice", "div", "neg", "assign") {
  for (DType t : kFloats) {
    Variable v(rnd({3, 2}, t), true, "v");
    compiled_vs_eager(std::string("splats through shape ops ") + dtype_name(t),
                      [t, &v](const std::vector<Tensor>& x) {
                        Tensor f = kiln::fill({2, 3}, 1.5, t);
                        Tensor r = kiln::reshape(f, {3, 2}), tr = kiln::transpose(f, {1, 0});
                        Tensor q = kiln::neg(kiln::broadcast_to(kiln::reshape(kiln::fill({}, 1.0, t), {1}), {3}) / 3.0);
                        Tensor s = kiln::slice(f, {0, 1}, {2, 2});
                        kiln::assign(v, tr * 0.5);
                        return std::vector<Tensor>{r + x[0], tr, q, s, f / 7.0, kiln::reshape(q, {3, 1}) * x[0]};
                      },
                      {rnd({3, 2}, t)}, {v});
  }
}

COMPILED_CASE(random_cases, "random_normal", "truncated_normal", "random_uniform") {
  for (DType t : kFloats) {
    SCOPED_TRACE(std::string("random ops ") + dtype_name(t));
    // The generator outlives the graph: every run draws fresh seeds from it, as eager calls do.
    Generator gen(0);
    GraphFn fn = [&gen, t](const std::vector<Tensor>& x) {
      return std::vector<Tensor>{kiln::random_normal({3, 4}, 1.0, 2.0, t, &gen) + kiln::cast(x[0], t),
                                 kiln::truncated_normal({5}, 0.0, 1.5, t, &gen),
                                 kiln::random_uniform({2, 2}, -1.0, 3.0, t, &gen)};
    };
    std::vector<Tensor> inputs = {rnd({3, 4}, DType::Float32)};
    ir::Graph g = trace_graph("random", fn, inputs);
    for (const ir::GraphNode& n : g.nodes) ++compiled_op_counts()[op_def(n.op).name];
    auto cg = compiler::CompiledGraph::compile(g);
    gen.reseed(77);
    std::vector<Tensor> got = cg->run(inputs);
    gen.reseed(77);
    std::vector<Tensor> want = fn(inputs);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(tensors_match(got[k], want[k])) << "output " << k;
    std::vector<Tensor> again = cg->run(inputs);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_FALSE(tensors_match(again[k], got[k])) << "output " << k << " repeated";
  }
}

COMPILED_CASE(assign_cases, "assign", "assign_add", "assign_sub") {
  for (DType t : kNumeric) {
    Variable v(rnd({3, 4}, t, -5, 5, 1), true, "v");
    compiled_vs_eager(std::string("assign family ") + dtype_name(t),
                      [&v](const std::vector<Tensor>& x) {
                        kiln::assign_add(v, x[0]);
                        Tensor mid = v * x[0];  // reads the updated value
                        kiln::assign_sub(v, mid);
                        return std::vector<Tensor>{mid};
                      },
                      {rnd({3, 4}, t, -3, 3, 2)}, {v});
    compiled_vs_eager(std::string("assign ") + dtype_name(t),
                      [&v](const std::vector<Tensor>& x) {
                        kiln::assign(v, x[0] + x[0]);
                        return std::vector<Tensor>{};
                      },
                      {rnd({3, 4}, t, -3, 3, 3)}, {v});
  }
  // var = transpose(var): writing in place would clobber values still to be read.
  Variable sq(rnd({3, 3}, DType::Float32), true, "square");
  compiled_vs_eager("assign a transpose of itself",
                    [&sq](const std::vector<Tensor>&) {
                      Tensor old = sq * 1.0;
                      kiln::assign(sq, kiln::transpose(sq, {1, 0}));
                      return std::vector<Tensor>{old};
                    },
                    {}, {sq});
}

COMPILED_CASE(apply_adam_cases, "apply_adam") {
  for (DType t : kFloats) {
    Variable w(rnd({4, 3}, t, -1, 1, 1), true, "w");
    Variable m(rnd({4, 3}, t, -0.1, 0.1, 2), false, "m"), v(rnd({4, 3}, t, 0, 0.1, 3), false, "v");
    compiled_vs_eager(std::string("apply_adam ") + dtype_name(t),
                      [&](const std::vector<Tensor>& x) {
                        kiln::apply_adam(w, m, v, x[0], x[1], 0.9, 0.999, 1e-7);
                        return std::vector<Tensor>{};
                      },
                      {rnd({4, 3}, t, -1, 1, 4), Tensor::scalar(0.01, t)}, {w, m, v});
    Tensor lr = Tensor::scalar(0.003, t);  // a captured constant learning rate
    compiled_vs_eager(std::string("apply_adam constant lr ") + dtype_name(t),
                      [&](const std::vector<Tensor>& x) {
                        kiln::apply_adam(w, m, v, x[0] * 2.0, lr, 0.8, 0.99, 1e-5);
                        return std::vector<Tensor>{w * 1.0};
                      },
                      {rnd({4, 3}, t, -1, 1, 5)}, {w, m, v});
  }
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const OpDef& op : all_ops()) names.emplace_back(op.name);
  return names;
}

class CompiledOp : public ::testing::TestWithParam<std::string> {};

TEST_P(CompiledOp, MatchesEager) {
  const std::string& op = GetParam();
  if (kInterpreterOnly.count(op)) GTEST_SKIP() << "interpreter-only: " << kInterpreterOnly.at(op);
  auto it = compiled_cases().find(op);
  ASSERT_NE(it, compiled_cases().end()) << "op '" << op << "' has no compiled case";
  const int before = compiled_op_counts()[op];
  for (const auto& [label, fn] : it->second) {
    SCOPED_TRACE(label);
    fn();
  }
  EXPECT_GT(compiled_op_counts()[op], before) << "no case of '" << op << "' compiled a graph holding it";
}

INSTANTIATE_TEST_SUITE_P(AllOps, CompiledOp, ::testing::ValuesIn(op_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(CompiledOpTable, EveryOpHasALoweringAndACase) {
  std::vector<std::string> missing_lowering, missing_case;
  for (const OpDef& op : all_ops()) {
    if (kInterpreterOnly.count(op.name)) continue;
    ir::Graph g;
    g.name = "probe";
    g.values.push_back({ir::ValueKind::Result, DType::Float32, Shape{}, 0});
    g.nodes.push_back({op.id, OpAttrs{}, {}, 0, {}});
    g.outputs = {0};
    if (!compiler::lowering_gap(g).empty()) missing_lowering.emplace_back(op.name);
    if (!compiled_cases().count(op.name)) missing_case.emplace_back(op.name);
  }
  EXPECT_TRUE(missing_lowering.empty()) << "ops without a compiler lowering: " << ::testing::PrintToString(missing_lowering);
  EXPECT_TRUE(missing_case.empty()) << "ops without a compiled case: " << ::testing::PrintToString(missing_case);
  for (const auto& [name, cases] : compiled_cases()) {
    bool known = false;
    for (const OpDef& op : all_ops()) known |= name == op.name;
    EXPECT_TRUE(known) << "compiled cases registered for unknown op '" << name << "'";
  }
}

TEST(CompiledRuntimeChecks, IntegerDivisionByZeroThrowsAsEager) {
  auto f = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::div(x[0], x[1])}; };
  Tensor a = Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, Shape{3});
  Tensor b = Tensor::from_vector(std::vector<int32_t>{1, 0, 3}, Shape{3});
  auto cg = compiler::CompiledGraph::compile(trace_graph("div0", f, {a, b}));
  EXPECT_EQ(error_of([&] { cg->run({a, b}); }), error_of([&] { f({a, b}); }));
}

}  // namespace
}  // namespace kiln::test
