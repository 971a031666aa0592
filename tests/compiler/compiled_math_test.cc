// Note [Polynomial math] (compiler/kiln/compiler/passes/PolynomialMath.cc): compiled float32 exp, log and
// tanh are polynomial approximations, not libm; they must agree with the true values (libm in
// float64, rounded) within a few ulps over their whole range, special values exactly. (The
// reference is not the eager kernel: Eigen's vectorized float exp overflows to inf from 88.38,
// short of float's limit at 88.72.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/compiler/compiler_test_util.h"

namespace kiln::test {
namespace {

// Every special value, then a sweep across the float32 range (both signs, many magnitudes).
std::vector<float> math_inputs() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          88.72f, 88.73f, -87.3f, -103.9f, -104.0f, -200.0f, 1.0f, -1.0f, 9.0f, -9.0f, 20.0f};
  for (int e = -40; e <= 40; ++e)
    for (float m : {1.0f, 1.37f, 2.9f, 6.1f}) {
      v.push_back(m * std::ldexp(1.0f, e));
      v.push_back(-m * std::ldexp(1.0f, e) / 3.0f);
    }
  for (int i = -2000; i <= 2000; ++i) v.push_back(static_cast<float>(i) * 0.0625f);
  return v;
}

// |a - b| in units of the last place of the larger magnitude.
double ulps(float a, float b) {
  const float scale = std::max(std::fabs(a), std::fabs(b));
  const double ulp = static_cast<double>(std::nextafter(scale, std::numeric_limits<float>::infinity())) - scale;
  return std::fabs(static_cast<double>(a) - b) / ulp;
}

// Note [LLVM 19 and fabs of a select] (FreezeFabsSelectConditions.cc): fused into one loop,
// abs(relu_grad(x, abs(x))) is fabs(select(fabs(x) > 0, x, 0)), whose outer fabs LLVM 19's -O2
// dropped: every negative x came out negative (fuzz seed 606102).
TEST(CompiledMath, AbsOfASelectOnAbsKeepsItsAbs) {
  const Tensor x = Tensor::from_vector<float>({0.75f, -1.5f, 0.125f, -1.0f, 0.0f, -0.0f, -3.25f, 2.0f}, {8});
  auto body = [](const Tensor& t) { return kiln::abs(kiln::relu_grad(t, kiln::abs(t))); };
  auto f = kiln::function(body);
  EXPECT_EQ(f(x).to_vector<float>(), body(x).to_vector<float>());
  EXPECT_EQ(f(x).to_vector<float>(), (std::vector<float>{0.75f, 1.5f, 0.125f, 1.0f, 0.0f, 0.0f, 3.25f, 2.0f}));
  EXPECT_NE(f.explain().find("compiled in"), std::string::npos) << f.explain();
}

TEST(CompiledMath, ExpLogTanhMatchLibmWithinAFewUlpsAndSpecialValuesExactly) {
  const std::vector<float> inputs = math_inputs();
  Tensor x = Tensor::from_vector(inputs);
  GraphFn fn = [](const std::vector<Tensor>& a) {
    return std::vector<Tensor>{kiln::exp(a[0]), kiln::log(a[0]), kiln::tanh(a[0])};
  };
  auto cg = compiler::CompiledGraph::compile(trace_graph("math", fn, {x}));
  EXPECT_EQ(cg->stage_text(Stage::LlvmIr).find("@llvm.exp.f32"), std::string::npos)
      << "exp is not approximated";
  const std::vector<Tensor> got = cg->run({x});
  const char* names[] = {"exp", "log", "tanh"};
  double (*reference[])(double) = {[](double v) { return std::exp(v); }, [](double v) { return std::log(v); },
                                   [](double v) { return std::tanh(v); }};
  for (size_t k = 0; k < got.size(); ++k) {
    const std::vector<float> g = got[k].to_vector<float>();
    std::vector<float> w;
    for (float v : inputs) w.push_back(static_cast<float>(reference[k](v)));
    double worst = 0;
    float worst_at = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      SCOPED_TRACE(std::string(names[k]) + "(" + std::to_string(inputs[i]) + ")");
      if (std::isnan(w[i]) || std::isinf(w[i]) || w[i] == 0) {  // special results: exactly
        EXPECT_EQ(std::isnan(g[i]), std::isnan(w[i])) << g[i] << " vs " << w[i];
        if (!std::isnan(w[i])) {
          EXPECT_EQ(g[i], w[i]);
        }
        continue;
      }
      // Results in the subnormal range carry few significant bits: compare absolutely there.
      if (std::fabs(w[i]) < std::numeric_limits<float>::min()) {
        EXPECT_NEAR(g[i], w[i], std::numeric_limits<float>::min()) << g[i] << " vs " << w[i];
        continue;
      }
      const double u = ulps(g[i], w[i]);
      if (u > worst) worst = u, worst_at = inputs[i];
    }
    EXPECT_LE(worst, 8.0) << names[k] << ": " << worst << " ulps at " << worst_at;
  }
}

}  // namespace
}  // namespace kiln::test
