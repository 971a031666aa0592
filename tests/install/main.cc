// Checks that an installed Kiln computes: ops, a matmul, a GradientTape and a compiled
// kiln::function, against known values.
#include <kiln/kiln.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {
int failures = 0;
void expect_near(const char* what, const std::vector<float>& got, const std::vector<float>& want) {
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) ok = std::fabs(got[i] - want[i]) <= 1e-5f;
  if (!ok) {
    std::fprintf(stderr, "%s: got", what);
    for (float v : got) std::fprintf(stderr, " %g", v);
    std::fprintf(stderr, ", want");
    for (float v : want) std::fprintf(stderr, " %g", v);
    std::fprintf(stderr, "\n");
    ++failures;
  }
}
}  // namespace

int main() {
  // y = sum(x^2 + 3x) at x = [1, 2, 3]: y = 32, dy/dx = 2x + 3 = [5, 7, 9].
  kiln::Variable x(kiln::constant(std::vector<float>{1, 2, 3}));
  kiln::GradientTape tape;
  kiln::Tensor y = kiln::reduce_sum(x * x + 3.0 * x);
  kiln::Tensor dx = tape.gradient(y, x);
  expect_near("y", y.to_vector<float>(), {32});
  expect_near("dy/dx", dx.to_vector<float>(), {5, 7, 9});

  // [[1, 2], [3, 4]] @ [[5], [6]] = [[17], [39]].
  kiln::Tensor a = kiln::constant(std::vector<float>{1, 2, 3, 4}, {2, 2});
  kiln::Tensor b = kiln::constant(std::vector<float>{5, 6}, {2, 1});
  expect_near("matmul", kiln::matmul(a, b).to_vector<float>(), {17, 39});

  // kiln::function compiles (the compiler registers itself as the tracer's backend: libkiln.a
  // must be linked whole), and the compiled step computes 2a + 1.
  auto step = kiln::function([](const kiln::Tensor& t) { return t * 2.0 + 1.0; });
  expect_near("compiled step", step(a).to_vector<float>(), {3, 5, 7, 9});
  if (step.explain().find("compiled in") == std::string::npos) {
    std::fprintf(stderr, "kiln::function did not compile: %s\n", step.explain().c_str());
    ++failures;
  }

  // A user error is a kiln::Error, not a crash.
  try {
    kiln::matmul(a, kiln::constant(std::vector<float>{1, 2, 3}, {3, 1}));
    std::fprintf(stderr, "matmul of [2,2] and [3,1] did not throw\n");
    ++failures;
  } catch (const kiln::Error&) {
  }

  if (failures == 0) std::printf("kiln install test: ok\n");
  return failures == 0 ? 0 : 1;
}
