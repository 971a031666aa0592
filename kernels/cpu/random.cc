// CPU kernels of the random ops: each call seeds its own engine from the op's sub-seed
// (drawn from a kiln::Generator), so results depend only on the generator's seed.
#include <random>

#include "kiln/core/op_def.h"

namespace kiln {
namespace {
template <typename Draw>
void fill_random(const RandomAttrs& attrs, const Tensor& out, Draw draw) {
  std::mt19937_64 engine(static_cast<uint64_t>(attrs.seed));
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    T* o = out.data<T>();
    for (int64_t i = 0, n = out.num_elements(); i < n; ++i) o[i] = static_cast<T>(draw(engine));
  });
}
}  // namespace

void cpu_RandomNormal(Inputs, const OpAttrs& op_attrs, const Tensor& out) {
  const RandomAttrs& attrs = op_attrs.as<RandomAttrs>();
  std::normal_distribution<double> dist(attrs.a, attrs.b);
  fill_random(attrs, out, [&](std::mt19937_64& e) { return dist(e); });
}

void cpu_TruncatedNormal(Inputs, const OpAttrs& op_attrs, const Tensor& out) {
  const RandomAttrs& attrs = op_attrs.as<RandomAttrs>();
  std::normal_distribution<double> dist(0.0, 1.0);
  fill_random(attrs, out, [&](std::mt19937_64& e) {
    double z;
    do z = dist(e);
    while (z < -2.0 || z > 2.0);
    return attrs.a + attrs.b * z;
  });
}

void cpu_RandomUniform(Inputs, const OpAttrs& op_attrs, const Tensor& out) {
  const RandomAttrs& attrs = op_attrs.as<RandomAttrs>();
  std::uniform_real_distribution<double> dist(attrs.a, attrs.b);
  fill_random(attrs, out, [&](std::mt19937_64& e) { return dist(e); });
}

}  // namespace kiln
