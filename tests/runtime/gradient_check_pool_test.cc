// Gradient checks of the pooling ops, their gradient ops and dropout (float64 central
// differences and Hessian-vector products through nested tapes, registered with the
// table-driven GradCheck of gradient_check_test.cc).
#include <algorithm>
#include <numeric>

#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

using In = const std::vector<Tensor>&;

// Distinct values 0.05 apart in a random order: no window holds two within the difference
// steps (1e-6, 1e-5), so the maxima never move while the checker perturbs x (the maximum is
// piecewise linear; as relu and maximum, it is checked away from its kinks).
Tensor spread(const Shape& s, uint32_t seed) {
  std::vector<double> v(static_cast<size_t>(s.num_elements()));
  std::iota(v.begin(), v.end(), 0.0);
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  for (double& x : v) x = x * 0.05 - 1.0;
  return f64(v, s);
}

struct PoolCase {
  Shape x;
  std::array<int64_t, 2> k, s;
  const char* padding;
};
const std::vector<PoolCase> kCases = {{{2, 5, 5, 2}, {2, 2}, {2, 2}, "valid"},
                                      {{1, 5, 4, 2}, {3, 3}, {2, 2}, "same"},
                                      {{1, 4, 5, 1}, {2, 3}, {1, 1}, "same"},
                                      {{1, 4, 4, 3}, {3, 3}, {1, 1}, "valid"}};

template <typename Body>
void each_case(Body body) {
  for (const PoolCase& p : kCases) {
    SCOPED_TRACE(p.x.str() + " k" + std::to_string(p.k[0]) + "x" + std::to_string(p.k[1]) + " s" +
                 std::to_string(p.s[0]) + " " + p.padding);
    body(p);
  }
}

GRAD_CHECK_CASE(max_pool2d_grad_check, "max_pool2d") {
  each_case([](const PoolCase& p) {
    check_gradients([p](In in) { return max_pool2d(in[0], p.k, p.s, p.padding); }, {spread(p.x, 1)});
    // Squared: the Hessian-vector product runs through max_pool2d_grad_grad.
    check_gradients([p](In in) { return square(max_pool2d(in[0], p.k, p.s, p.padding)); }, {spread(p.x, 2)});
  });
}

GRAD_CHECK_CASE(avg_pool2d_grad_check, "avg_pool2d") {
  each_case([](const PoolCase& p) {
    check_gradients([p](In in) { return avg_pool2d(in[0], p.k, p.s, p.padding); }, {rand64(p.x, -1, 1, 3)});
    check_gradients([p](In in) { return square(avg_pool2d(in[0], p.k, p.s, p.padding)); }, {rand64(p.x, -1, 1, 4)});
  });
}

// Every input watched: linear in dy, zero wrt x and y (y is not read, x's maxima do not move).
GRAD_CHECK_CASE(max_pool2d_grad_grad_check, "max_pool2d_grad") {
  each_case([](const PoolCase& p) {
    Tensor x = spread(p.x, 5), y = max_pool2d(x, p.k, p.s, p.padding);
    check_gradients([p](In in) { return max_pool2d_grad(in[0], in[1], in[2], p.k, p.s, p.padding); },
                    {x, y, rand64(y.shape(), -1, 1, 6)});
    check_gradients([p](In in) { return square(max_pool2d_grad(in[0], in[1], in[2], p.k, p.s, p.padding)); },
                    {x, y, rand64(y.shape(), -1, 1, 7)}, {2});
  });
}

GRAD_CHECK_CASE(max_pool2d_grad_grad_grad_check, "max_pool2d_grad_grad") {
  each_case([](const PoolCase& p) {
    Tensor x = spread(p.x, 8), y = max_pool2d(x, p.k, p.s, p.padding);
    check_gradients([p](In in) { return max_pool2d_grad_grad(in[0], in[1], in[2], p.k, p.s, p.padding); },
                    {x, y, rand64(p.x, -1, 1, 9)});
    check_gradients([p](In in) { return square(max_pool2d_grad_grad(in[0], in[1], in[2], p.k, p.s, p.padding)); },
                    {x, y, rand64(p.x, -1, 1, 10)}, {2});
  });
}

GRAD_CHECK_CASE(avg_pool2d_grad_grad_check, "avg_pool2d_grad") {
  each_case([](const PoolCase& p) {
    const Shape dy = max_pool2d(zeros(p.x, DType::Float64), p.k, p.s, p.padding).shape();
    check_gradients([p](In in) { return avg_pool2d_grad(p.x, in[0], p.k, p.s, p.padding); }, {rand64(dy, -1, 1, 11)});
    check_gradients([p](In in) { return square(avg_pool2d_grad(p.x, in[0], p.k, p.s, p.padding)); }, {rand64(dy, -1, 1, 12)});
  });
}

// u away from the rate (the mask does not flip under the difference steps); u gets a zero gradient.
GRAD_CHECK_CASE(dropout_grad_check, "dropout") {
  std::vector<double> u = uniform(12, 0, 1, 13);
  for (double& v : u) v = v < 0.3 ? std::min(v, 0.25) : std::max(v, 0.35);
  check_gradients([](In in) { return dropout_with_uniform(in[0], in[1], 0.3); }, {rand64({3, 4}, -1, 1, 14), f64(u, {3, 4})});
  check_gradients([](In in) { return square(dropout_with_uniform(in[0], in[1], 0.3)); }, {rand64({3, 4}, -1, 1, 15), f64(u, {3, 4})});
}

}  // namespace
}  // namespace kiln::test
