// Gradient checks: for every differentiable op of the table, GradientTape gradients (and
// Hessian-vector products through nested tapes) against float64 central differences, with a
// random upstream weighting; plus higher-order derivatives of x^3 and of a small MLP.
#include <cmath>

#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

using In = const std::vector<Tensor>&;

// Values in [lo, hi) with random signs: away from 0 by at least lo (for abs, relu, div).
Tensor signed64(const Shape& s, double lo, double hi, uint32_t seed) {
  std::vector<double> v = uniform(s.num_elements(), lo, hi, seed), sign = uniform(s.num_elements(), -1, 1, seed + 1);
  for (size_t i = 0; i < v.size(); ++i) v[i] *= sign[i] < 0 ? -1 : 1;
  return f64(v, s);
}

const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{2, 1, 3}, {4, 1}}, {{}, {2, 3}}, {{3, 1}, {1, 4}}, {{2, 3}, {}}};

template <typename Op>
void check_binary(Op op, double lo, double hi, double blo, double bhi, bool signed_b = false) {
  for (const auto& [sa, sb] : kBroadcastPairs) {
    SCOPED_TRACE(sa.str() + " with " + sb.str());
    Tensor b = signed_b ? signed64(sb, blo, bhi, 3) : rand64(sb, blo, bhi, 3);
    check_gradients([op](In in) { return op(in[0], in[1]); }, {rand64(sa, lo, hi, 2), b});
  }
}

GRAD_CHECK_CASE(add_grad, "add") { check_binary([](const Tensor& a, const Tensor& b) { return a + b; }, -1, 1, -1, 1); }
GRAD_CHECK_CASE(sub_grad, "sub") { check_binary([](const Tensor& a, const Tensor& b) { return a - b; }, -1, 1, -1, 1); }
GRAD_CHECK_CASE(mul_grad, "mul") { check_binary([](const Tensor& a, const Tensor& b) { return a * b; }, -1, 1, -1, 1); }
GRAD_CHECK_CASE(div_grad, "div") {
  check_binary([](const Tensor& a, const Tensor& b) { return a / b; }, -1, 1, 0.5, 2, true);
}
GRAD_CHECK_CASE(pow_grad, "pow") {
  // Positive bases, so d/db a^b = a^b log a is defined.
  check_binary([](const Tensor& a, const Tensor& b) { return pow(a, b); }, 0.5, 2, -1.5, 2.5);
  // Integral exponents of a negative base: d/da is defined, d/db is 0 by convention.
  check_gradients([](In in) { return pow(in[0], f64({2, 3, 1}, {3})); }, {f64({-1.5, -0.7, -2}, {3})});
}
GRAD_CHECK_CASE(maximum_grad, "maximum") {
  // Unequal operands (no ties: the gradient jumps there).
  check_binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); }, -1, 1, -1, 1);
}
GRAD_CHECK_CASE(minimum_grad, "minimum") {
  check_binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); }, -1, 1, -1, 1);
}

GRAD_CHECK_CASE(where_grad, "where") {
  Tensor c = make({1, 0, 0, 1, 1, 0}, {2, 3}, DType::Bool);
  check_gradients([c](In in) { return where(c, in[0], in[1]); }, {rand64({2, 3}, -1, 1, 4), rand64({2, 3}, -1, 1, 5)});
  check_gradients([c](In in) { return where(c, in[0], in[1]); }, {rand64({3}, -1, 1, 4), rand64({2, 1}, -1, 1, 5)});
  Tensor col = make({0, 1}, {2, 1}, DType::Bool);
  check_gradients([col](In in) { return where(col, in[0], in[1]); }, {rand64({}, -1, 1, 4), rand64({1, 3}, -1, 1, 5)});
}

template <typename Op>
void check_unary(Op op, const Tensor& x) {
  check_gradients([op](In in) { return op(in[0]); }, {x});
}

GRAD_CHECK_CASE(neg_grad, "neg") { check_unary(neg, rand64({2, 3}, -2, 2, 6)); }
GRAD_CHECK_CASE(exp_grad, "exp") { check_unary(exp, rand64({2, 3}, -2, 2, 6)); }
GRAD_CHECK_CASE(log_grad, "log") { check_unary(log, rand64({2, 3}, 0.5, 3, 6)); }
GRAD_CHECK_CASE(sqrt_grad, "sqrt") { check_unary(sqrt, rand64({2, 3}, 0.5, 3, 6)); }
GRAD_CHECK_CASE(rsqrt_grad, "rsqrt") { check_unary(rsqrt, rand64({2, 3}, 0.5, 3, 6)); }
GRAD_CHECK_CASE(square_grad, "square") { check_unary(square, rand64({2, 3}, -2, 2, 6)); }
GRAD_CHECK_CASE(abs_grad, "abs") { check_unary(abs, signed64({2, 3}, 0.1, 2, 6)); }
GRAD_CHECK_CASE(relu_grad_of_relu, "relu") { check_unary(relu, signed64({3, 4}, 0.1, 2, 6)); }
GRAD_CHECK_CASE(sigmoid_grad, "sigmoid") { check_unary(sigmoid, rand64({2, 3}, -3, 3, 6)); }
GRAD_CHECK_CASE(tanh_grad, "tanh") { check_unary(tanh, rand64({2, 3}, -2, 2, 6)); }

GRAD_CHECK_CASE(relu_grad_grad, "relu_grad") {
  // Linear in dy; piecewise constant in x (away from x = 0), so d/dx is 0.
  check_gradients([](In in) { return relu_grad(in[0], in[1]); }, {rand64({3, 4}, -2, 2, 7), signed64({3, 4}, 0.1, 2, 8)});
}

GRAD_CHECK_CASE(cast_grad, "cast") {
  // float32 <-> float64 on dyadic values with a dyadic step: every difference is exact.
  std::vector<double> v = {-1.5, -0.25, 0.125, 0.75, 1.0, 1.875};
  GradCheckOptions exact;
  exact.eps = 1.0 / 64;
  exact.tol = 1e-12;
  exact.second_order = false;
  check_gradients([](In in) { return cast(in[0], DType::Float64); }, {make(v, {2, 3}, DType::Float32)}, {}, exact);
  check_gradients([](In in) { return cast(in[0], DType::Float32); }, {make(v, {2, 3}, DType::Float64)}, {}, exact);
  // Through a cast and back in float64 arithmetic, with second order.
  check_gradients([](In in) { return cast(cast(in[0], DType::Float32), DType::Float64) * in[0]; },
                  {make(v, {2, 3}, DType::Float64)}, {}, exact);
  // To an integer dtype: no gradient (zero).
  GradientTape tape;
  Tensor x = f64({1.5, 2.5}, {2});
  tape.watch(x);
  Tensor y = cast(cast(x, DType::Int32), DType::Float64);
  EXPECT_FALSE(tape.gradient(reduce_sum(y), x).defined());
}

GRAD_CHECK_CASE(softmax_grad, "softmax") {
  check_unary(softmax, rand64({3, 4}, -2, 2, 9));
  check_unary(softmax, rand64({2, 2, 3}, -2, 2, 10));
}
GRAD_CHECK_CASE(log_softmax_grad, "log_softmax") {
  check_unary(log_softmax, rand64({3, 4}, -2, 2, 9));
  check_unary(log_softmax, rand64({2, 2, 3}, -2, 2, 10));
}
GRAD_CHECK_CASE(softmax_xent_grad, "softmax_cross_entropy_with_logits") {
  // Labels need not sum to 1 for the formula; both inputs are differentiable.
  check_gradients([](In in) { return softmax_cross_entropy_with_logits(in[0], in[1]); },
                  {rand64({3, 4}, 0, 1, 11), rand64({3, 4}, -2, 2, 12)});
}
GRAD_CHECK_CASE(sparse_softmax_xent_grad, "sparse_softmax_cross_entropy_with_logits") {
  for (DType label_dt : {DType::Int32, DType::Int64}) {
    Tensor labels = make({2, 0, 1, 2}, {4}, label_dt);
    check_gradients([](In in) { return sparse_softmax_cross_entropy_with_logits(in[0], in[1]); },
                    {labels, rand64({4, 3}, -2, 2, 13)});
  }
}

GRAD_CHECK_CASE(matmul_grad, "matmul") {
  struct Case { Shape a, b; bool ta, tb; };
  for (const Case& c : {Case{{3, 4}, {4, 2}, false, false}, Case{{4, 3}, {4, 2}, true, false},
                        Case{{3, 4}, {2, 4}, false, true}, Case{{4, 3}, {2, 4}, true, true},
                        Case{{2, 3, 4}, {2, 4, 2}, false, false}, Case{{2, 4, 3}, {2, 2, 4}, true, true},
                        Case{{2, 1, 3, 2}, {2, 1, 3, 2}, true, false}}) {
    SCOPED_TRACE(c.a.str() + " @ " + c.b.str());
    const bool ta = c.ta, tb = c.tb;
    check_gradients([ta, tb](In in) { return matmul(in[0], in[1], ta, tb); },
                    {rand64(c.a, -1, 1, 14), rand64(c.b, -1, 1, 15)});
  }
  // The same tensor on both sides: the two contributions add up.
  check_gradients([](In in) { return matmul(in[0], in[0], false, true); }, {rand64({3, 2}, -1, 1, 16)});
}

template <typename Op>
void check_reductions(Op op) {
  for (const Axes& axes : std::vector<Axes>{{}, {0}, {1}, {-1}, {0, 2}, {2, 0, 1}})
    for (bool keepdims : {false, true}) {
      SCOPED_TRACE(::testing::PrintToString(axes) + (keepdims ? " keepdims" : ""));
      check_gradients([op, axes, keepdims](In in) { return op(in[0], axes, keepdims); },
                      {rand64({2, 3, 4}, -2, 2, 17)});
    }
}
GRAD_CHECK_CASE(reduce_sum_grad, "reduce_sum") { check_reductions(reduce_sum); }
GRAD_CHECK_CASE(reduce_mean_grad, "reduce_mean") { check_reductions(reduce_mean); }
GRAD_CHECK_CASE(reduce_max_grad, "reduce_max") { check_reductions(reduce_max); }  // distinct values: no ties

GRAD_CHECK_CASE(reshape_grad, "reshape") {
  check_gradients([](In in) { return reshape(in[0], {3, 2}); }, {rand64({2, 3}, -1, 1, 18)});
  check_gradients([](In in) { return reshape(in[0], {2, -1, 2}) * in[1]; },
                  {rand64({12}, -1, 1, 18), rand64({3, 2}, -1, 1, 19)});
}
GRAD_CHECK_CASE(transpose_grad, "transpose") {
  for (std::vector<int64_t> perm : std::vector<std::vector<int64_t>>{{2, 0, 1}, {1, 0, 2}, {1, 2, 0}, {}})
    check_gradients([perm](In in) { return transpose(in[0], perm); }, {rand64({2, 3, 4}, -1, 1, 20)});
}
GRAD_CHECK_CASE(broadcast_to_grad, "broadcast_to") {
  check_gradients([](In in) { return broadcast_to(in[0], {2, 3}); }, {rand64({3}, -1, 1, 21)});
  check_gradients([](In in) { return broadcast_to(in[0], {2, 4}); }, {rand64({2, 1}, -1, 1, 21)});
  check_gradients([](In in) { return broadcast_to(in[0], {2, 2}); }, {rand64({}, -1, 1, 21)});
  check_gradients([](In in) { return broadcast_to(in[0], {2, 3, 4}); }, {rand64({1, 3, 1}, -1, 1, 21)});
}
GRAD_CHECK_CASE(concat_grad, "concat") {
  for (int64_t axis : {0, 1, -1}) {
    const int ax = static_cast<int>(axis < 0 ? axis + 2 : axis);
    Shape a{2, 3}, b{2, 3}, c{2, 3};
    b[ax] = 1;
    c[ax] = 2;
    check_gradients([axis](In in) { return concat({in[0], in[1], in[2]}, axis); },
                    {rand64(a, -1, 1, 22), rand64(b, -1, 1, 23), rand64(c, -1, 1, 24)});
  }
  // One tensor twice.
  check_gradients([](In in) { return concat({in[0], in[0] * in[0]}, 0); }, {rand64({2}, -1, 1, 25)});
}
GRAD_CHECK_CASE(slice_grad, "slice") {
  check_gradients([](In in) { return slice(in[0], {1, 0, 2}, {2, 3, 2}); }, {rand64({3, 4, 5}, -1, 1, 26)});
  check_gradients([](In in) { return slice(in[0], {0, 1}, {-1, 1}); }, {rand64({2, 3}, -1, 1, 27)});
  check_gradients([](In in) { return slice(in[0], {0}, {4}); }, {rand64({4}, -1, 1, 27)});
}
GRAD_CHECK_CASE(gather_grad, "gather") {
  // Repeated indices accumulate; 2-D indices give a 3-D result.
  check_gradients([](In in) { return gather(in[0], in[1]); }, {rand64({5, 3}, -1, 1, 28), make({4, 0, 4, 2}, {4}, DType::Int32)});
  check_gradients([](In in) { return gather(in[0], in[1]); },
                  {rand64({4, 2}, -1, 1, 29), make({1, 3, 1, 1}, {2, 2}, DType::Int64)});
  check_gradients([](In in) { return gather(in[0], in[1]) * gather(in[0], in[1]); },
                  {rand64({3}, -1, 1, 30), make({2, 2, 0}, {3}, DType::Int64)});
}
GRAD_CHECK_CASE(unsorted_segment_sum_grad, "unsorted_segment_sum") {
  check_gradients([](In in) { return unsorted_segment_sum(in[0], in[1], 4); },
                  {rand64({6, 3}, -1, 1, 31), make({3, 0, 3, 1, 0, 3}, {6}, DType::Int64)});
  check_gradients([](In in) { return square(unsorted_segment_sum(in[0], in[1], 3)); },
                  {rand64({2, 2, 2}, -1, 1, 32), make({2, 0, 2, 2}, {2, 2}, DType::Int32)});
}

// ---- The table tests ----

std::vector<std::string> differentiable_op_names() {
  std::vector<std::string> names;
  for (const OpDef& op : all_ops())
    if (op.grad != nullptr) names.emplace_back(op.name);
  return names;
}

class GradCheck : public ::testing::TestWithParam<std::string> {};

TEST_P(GradCheck, MatchesCentralDifferences) { run_cases(gradient_cases(), GetParam(), "gradient-check"); }

INSTANTIATE_TEST_SUITE_P(GradTable, GradCheck, ::testing::ValuesIn(differentiable_op_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(GradCheckTable, EveryDifferentiableOpHasAGradientCheck) {
  std::vector<std::string> missing = ops_without_case(gradient_cases(), true);
  EXPECT_TRUE(missing.empty()) << "ops with GRAD in op_table.def but no gradient check (add a GRAD_CHECK_CASE): "
                               << join(missing);
  std::vector<std::string> unknown = cases_for_unknown_ops(gradient_cases(), true);
  EXPECT_TRUE(unknown.empty()) << "gradient checks registered for names that are not differentiable ops: "
                               << join(unknown);
}

TEST(GradCheckTable, EachCaseCallsTheOpsItCovers) {
  std::vector<std::string> bad = cases_not_calling_their_op(gradient_cases());
  EXPECT_TRUE(bad.empty()) << "gradient checks that never call an op they are registered for: " << join(bad);
}

// The checker itself must be able to fail: a deliberately wrong gradient is caught.
TEST(GradCheckTable, CheckerCatchesAWrongGradient) {
  ::testing::TestPartResultArray failures;
  GradCheckOptions first_order_only;
  first_order_only.second_order = false;
  {
    ::testing::ScopedFakeTestPartResultReporter quiet(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    // d/dx of this is 2x, but its custom gradient claims 3x.
    check_gradients(
        [](In in) {
          return custom_gradient({in[0]}, [](const std::vector<Tensor>& x) {
            Tensor x0 = x[0];
            return std::pair{x0 * x0, CustomGradFn([x0](const Tensor& dy) { return std::vector<Tensor>{dy * x0 * 3.0}; })};
          });
        },
        {rand64({3}, -1, 1, 33)}, {}, first_order_only);
  }
  EXPECT_GE(failures.size(), 1) << "check_gradients accepted a wrong gradient";
}

// ---- Ties: the documented subgradients (TF's conventions) ----

TEST(GradRules, ReduceMaxSplitsTiesEvenly) {
  Tensor x = f64({1, 3, 3, 2, 3, 0}, {2, 3});
  GradientTape tape(true);
  tape.watch(x);
  Tensor all = reduce_max(x), rows = reduce_max(x, {1});
  EXPECT_TRUE(tensor_near(tape.gradient(all, x), {2, 3}, DType::Float64, {0, 1. / 3, 1. / 3, 0, 1. / 3, 0}, 1e-15));
  EXPECT_TRUE(tensor_near(tape.gradient(rows, x), {2, 3}, DType::Float64, {0, 0.5, 0.5, 0, 1, 0}, 1e-15));
}

TEST(GradRules, MaximumAndMinimumTiesGoToTheFirstOperand) {
  Tensor a = f64({1, 2, 3}, {3}), b = f64({1, 5, 0}, {3});
  GradientTape tape(true);
  tape.watch({a, b});
  std::vector<Tensor> gmax = tape.gradient(maximum(a, b), {a, b});
  std::vector<Tensor> gmin = tape.gradient(minimum(a, b), {a, b});
  EXPECT_TRUE(tensor_near(gmax[0], {3}, DType::Float64, {1, 0, 1}));
  EXPECT_TRUE(tensor_near(gmax[1], {3}, DType::Float64, {0, 1, 0}));
  EXPECT_TRUE(tensor_near(gmin[0], {3}, DType::Float64, {1, 1, 0}));
  EXPECT_TRUE(tensor_near(gmin[1], {3}, DType::Float64, {0, 0, 1}));
}

TEST(GradRules, ReluAndAbsAtZeroHaveZeroGradient) {
  Tensor x = f64({-1, 0, 2}, {3});
  GradientTape tape(true);
  tape.watch(x);
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(relu(x)), x), {3}, DType::Float64, {0, 0, 1}));
  EXPECT_TRUE(tensor_near(tape.gradient(reduce_sum(abs(x)), x), {3}, DType::Float64, {-1, 0, 1}));
}

// ---- Higher order ----

TEST(GradSecondOrder, CubeSecondAndThirdDerivatives) {
  Tensor x = f64({-1.5, 0.5, 2}, {3});
  GradientTape t3;
  t3.watch(x);
  GradientTape t2;
  t2.watch(x);
  Tensor dy, d2y;
  {
    GradientTape t1;
    t1.watch(x);
    Tensor y = x * x * x;
    dy = t1.gradient(y, x);
  }
  EXPECT_TRUE(tensor_near(dy, {3}, DType::Float64, {6.75, 0.75, 12}, 1e-14));  // 3x^2
  d2y = t2.gradient(dy, x);
  EXPECT_TRUE(tensor_near(d2y, {3}, DType::Float64, {-9, 3, 12}, 1e-14));  // 6x
  EXPECT_TRUE(tensor_near(t3.gradient(d2y, x), {3}, DType::Float64, {6, 6, 6}, 1e-14));

  // Through pow: d2/dx2 x^3 = 6x as well.
  GradientTape outer;
  outer.watch(x);
  Tensor g;
  {
    GradientTape inner;
    inner.watch(x);
    g = inner.gradient(pow(x * x, f64({1.5}, {1})), x);  // |x|^3
  }
  EXPECT_TRUE(tensor_near(outer.gradient(g, x), {3}, DType::Float64, {9, 3, 12}, 1e-12));  // 6|x|
}

// A small MLP: loss = mean((act(x W1 + b1) W2 + b2 - t)^2), float64.
struct Mlp {
  Tensor x = rand64({5, 3}, -1, 1, 40), t = rand64({5, 2}, -1, 1, 41);
  Tensor b1 = rand64({4}, -0.5, 0.5, 42), w2 = rand64({4, 2}, -1, 1, 43), b2 = rand64({2}, -0.5, 0.5, 44);
  bool sigmoid_hidden = false;
  Tensor loss(const Tensor& w1) const {
    Tensor pre = matmul(x, w1) + b1;
    Tensor h = sigmoid_hidden ? sigmoid(pre) : tanh(pre);
    return reduce_mean(square(matmul(h, w2) + b2 - t));
  }
  Tensor grad(const Tensor& w1) const {
    Variable w(w1);
    GradientTape tape;
    return tape.gradient(loss(w), w);
  }
};

TEST(GradSecondOrder, MlpHessianVectorProductMatchesDifferences) {
  for (bool use_sigmoid : {false, true}) {
    SCOPED_TRACE(use_sigmoid ? "sigmoid" : "tanh");
    Mlp mlp;
    mlp.sigmoid_hidden = use_sigmoid;
    Variable w1(rand64({3, 4}, -1, 1, 45), true, "w1");
    Tensor v = rand64({3, 4}, -1, 1, 46);
    Tensor hv;
    {
      GradientTape outer;  // watches the trainable w1 automatically
      Tensor gv;
      {
        GradientTape inner;
        gv = reduce_sum(inner.gradient(mlp.loss(w1), w1) * v);
      }
      hv = outer.gradient(gv, w1);
    }
    const double eps = 1e-5;
    std::vector<double> w = values(w1), vv = values(v), wp(w.size()), wm(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      wp[i] = w[i] + eps * vv[i];
      wm[i] = w[i] - eps * vv[i];
    }
    std::vector<double> gp = values(mlp.grad(f64(wp, {3, 4}))), gm = values(mlp.grad(f64(wm, {3, 4}))), want;
    for (size_t i = 0; i < w.size(); ++i) want.push_back((gp[i] - gm[i]) / (2 * eps));
    EXPECT_TRUE(tensor_near(hv, {3, 4}, DType::Float64, want, 1e-6, 1e-8));

    // The second derivative with respect to one entry, W1[1,2].
    Tensor e = f64({0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, {3, 4});
    Tensor h_entry;
    {
      GradientTape outer;
      Tensor g12;
      {
        GradientTape inner;
        g12 = reduce_sum(inner.gradient(mlp.loss(w1), w1) * e);
      }
      h_entry = outer.gradient(g12, w1);
    }
    std::vector<double> ep = w, em = w;
    ep[6] += eps;
    em[6] -= eps;
    const double d2 = (values(mlp.grad(f64(ep, {3, 4})))[6] - values(mlp.grad(f64(em, {3, 4})))[6]) / (2 * eps);
    EXPECT_NEAR(values(h_entry)[6], d2, 1e-6 * (1 + std::fabs(d2)));
    EXPECT_NE(d2, 0.0);
  }
}

}  // namespace
}  // namespace kiln::test
