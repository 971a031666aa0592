// CPU kernels of the fused optimizer updates (TF's training ops): Adam's in one pass.
#include <cmath>

#include "kiln/core/op_def.h"

namespace kiln {

void cpu_ApplyAdam(Inputs in, const OpAttrs& attrs, const Tensor&) {
  KILN_DISPATCH_FLOAT(in[0].dtype(), T, {
    T* var = in[0].data<T>();
    T* m = in[1].data<T>();
    T* v = in[2].data<T>();
    const T* g = in[3].data<T>();
    const T lr = *in[4].data<T>();
    const AdamAttrs& a = attrs.as<AdamAttrs>();
    const T b1 = static_cast<T>(1 - a.beta_1), b2 = static_cast<T>(1 - a.beta_2), eps = static_cast<T>(a.epsilon);
    for (int64_t i = 0, n = in[0].num_elements(); i < n; ++i) {
      m[i] += (g[i] - m[i]) * b1;
      v[i] += (g[i] * g[i] - v[i]) * b2;
      var[i] -= lr * m[i] / (std::sqrt(v[i]) + eps);
    }
  });
}

}  // namespace kiln
