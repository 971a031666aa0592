// CPU kernels of reduce_sum, reduce_mean, reduce_max and argmax over arbitrary axes.
#include <limits>
#include <vector>

#include "kernels/cpu/broadcast_loop.h"
#include "kiln/core/op_def.h"

namespace kiln {
namespace {

// The output shape with reduced axes kept as 1, so it broadcasts against the input.
Shape keepdims_shape(const Shape& in, const IntList& axes) {
  Shape s = in;
  if (axes.empty()) {
    for (int i = 0; i < s.rank(); ++i) s[i] = 1;
  }
  for (int64_t a : axes) s[a < 0 ? static_cast<int>(a) + in.rank() : static_cast<int>(a)] = 1;
  return s;
}

// Float sums accumulate in double so a long float32 reduction keeps its precision.
template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;

template <typename T>
void reduce_sum(const Tensor& x, const IntList& axes, const Tensor& out, double scale) {
  const int64_t n_out = out.num_elements();
  std::vector<Acc<T>> acc(static_cast<size_t>(n_out), Acc<T>{0});
  const T* px = x.data<T>();
  Shape kd = keepdims_shape(x.shape(), axes);
  if (n_out == 1) {
    Acc<T> s = 0;
    for (int64_t i = 0, n = x.num_elements(); i < n; ++i) s += px[i];
    acc[0] = s;
  } else {
    Acc<T>* pa = acc.data();
    cpu::broadcast_loop<2>(x.shape(), {&x.shape(), &kd},
                           [&](const std::array<int64_t, 2>& off, int64_t len, const std::array<int64_t, 2>& st) {
                             const T* xi = px + off[0];
                             Acc<T>* ai = pa + off[1];
                             if (st[1] == 0) {
                               Acc<T> s = 0;
                               for (int64_t i = 0; i < len; ++i) s += xi[i];
                               ai[0] += s;
                             } else {
                               for (int64_t i = 0; i < len; ++i) ai[i] += xi[i];
                             }
                           });
  }
  T* po = out.data<T>();
  for (int64_t i = 0; i < n_out; ++i) po[i] = static_cast<T>(acc[i] * static_cast<Acc<T>>(scale));
}

}  // namespace

void cpu_ReduceSum(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  KILN_DISPATCH_NUMERIC(out.dtype(), T, reduce_sum<T>(in[0], attrs.as<ReduceAttrs>().axes, out, 1.0));
}

void cpu_ReduceMean(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const int64_t count = out.num_elements() == 0 ? 0 : in[0].num_elements() / out.num_elements();
  KILN_DISPATCH_NUMERIC(out.dtype(), T, {
    if constexpr (std::is_floating_point_v<T>) {
      reduce_sum<T>(in[0], attrs.as<ReduceAttrs>().axes, out, count == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / count);
    } else {
      KILN_CHECK(count > 0, "reduce_mean: mean of an empty integer tensor ", in[0].shape().str());
      reduce_sum<T>(in[0], attrs.as<ReduceAttrs>().axes, out, 1.0);
      T* po = out.data<T>();
      for (int64_t i = 0; i < out.num_elements(); ++i) po[i] /= static_cast<T>(count);
    }
  });
}

void cpu_ReduceMax(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  KILN_DISPATCH_NUMERIC(out.dtype(), T, {
    T* po = out.data<T>();
    const T* px = in[0].data<T>();
    std::fill(po, po + out.num_elements(), std::numeric_limits<T>::lowest());
    Shape kd = keepdims_shape(in[0].shape(), attrs.as<ReduceAttrs>().axes);
    cpu::broadcast_loop<2>(in[0].shape(), {&in[0].shape(), &kd},
                           [&](const std::array<int64_t, 2>& off, int64_t len, const std::array<int64_t, 2>& st) {
                             const T* xi = px + off[0];
                             T* oi = po + off[1];
                             for (int64_t i = 0; i < len; ++i) {
                               T& slot = oi[i * st[1]];
                               if (xi[i] > slot || xi[i] != xi[i]) slot = xi[i];  // NaN propagates
                             }
                           });
  });
}

void cpu_ArgMax(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const Tensor& x = in[0];
  const int ax = normalize_axis(attrs.as<ArgMaxAttrs>().axis, x.rank(), "argmax");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= x.shape()[i];
  for (int i = ax + 1; i < x.rank(); ++i) inner *= x.shape()[i];
  const int64_t len = x.shape()[ax];
  KILN_DISPATCH_NUMERIC(x.dtype(), T, {
    const T* px = x.data<T>();
    KILN_DISPATCH_NUMERIC(out.dtype(), I, {
      I* po = out.data<I>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* base = px + o * len * inner + i;
          int64_t best = 0;
          for (int64_t j = 1; j < len; ++j)
            if (base[j * inner] > base[best * inner]) best = j;
          po[o * inner + i] = static_cast<I>(best);
        }
    });
  });
}

}  // namespace kiln
