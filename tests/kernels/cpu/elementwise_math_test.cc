// Eager unary math gives the same bits for equal inputs at every position of a tensor (Note [Same
// bits at every position] in kernels/cpu/elementwise.cc), and sqrt and rsqrt (1/sqrt) round each
// step, as compiled code computes them.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace kiln {
namespace {

template <typename T>
void expect_same_bits_for_equal_inputs(DType dtype) {
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> ops = {
      {"exp", [](const Tensor& x) { return exp(x); }},         {"log", [](const Tensor& x) { return log(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},       {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }},     {"sqrt", [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt(exp)", [](const Tensor& x) { return rsqrt(exp(-x)); }}};
  const std::vector<double> pattern = {0.9375, 0.1, 2.5, 0.0625, 7.75};  // each value at many positions
  for (const auto& [name, op] : ops)
    for (int64_t n : {1, 3, 7, 17, 75, 1001}) {
      std::vector<T> values(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<T>(pattern[static_cast<size_t>(i) % pattern.size()]);
      const std::vector<T> y = op(Tensor::from_vector<T>(values, {n})).template to_vector<T>();
      for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(i) % pattern.size();
        ASSERT_EQ(y[static_cast<size_t>(i)], y[k]) << name << " " << dtype_name(dtype) << ", n = " << n << ": position " << i
                                                    << " and " << k << " hold " << values[k];
      }
    }
}

TEST(ElementwiseMath, EqualInputsGiveEqualBitsAtEveryPosition) {
  expect_same_bits_for_equal_inputs<float>(DType::Float32);
  expect_same_bits_for_equal_inputs<double>(DType::Float64);
}

TEST(ElementwiseMath, SqrtAndRsqrtRoundEachStepAsCompiledCode) {
  std::vector<float> x;
  for (float v = 0.015625f; v < 64.0f; v *= 1.0371f) x.push_back(v);
  const Tensor t = Tensor::from_vector<float>(x, {static_cast<int64_t>(x.size())});
  const std::vector<float> r = rsqrt(t).to_vector<float>(), s = sqrt(t).to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(r[i], 1.0f / std::sqrt(x[i])) << "rsqrt(" << x[i] << ")";
    EXPECT_EQ(s[i], std::sqrt(x[i])) << "sqrt(" << x[i] << ")";
  }
}

}  // namespace
}  // namespace kiln
