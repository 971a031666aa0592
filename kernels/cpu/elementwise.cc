// CPU kernels of the elementwise ops: broadcast binary ops, comparisons, where, unary math
// (Eigen's vectorised exp/log/tanh), relu_grad, cast and dropout.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/broadcast_loop.h"
#include "kiln/core/op_def.h"

namespace kiln {
namespace {

template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// out = f(a, b) elementwise with broadcasting; R is the result type.
template <typename T, typename R, typename F>
void binary(Inputs in, const Tensor& out, F f) {
  const T* a = in[0].data<T>();
  const T* b = in[1].data<T>();
  R* o = out.data<R>();
  const int64_t n = out.num_elements();
  if (in[0].num_elements() == n && in[1].num_elements() == n) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
    return;
  }
  if (in[1].num_elements() == 1 && in[0].num_elements() == n) {
    const T s = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], s);
    return;
  }
  cpu::broadcast_loop<2>(out.shape(), {&in[0].shape(), &in[1].shape()},
                         [&](const std::array<int64_t, 2>& off, int64_t len, const std::array<int64_t, 2>& st) {
                           const T* pa = a + off[0];
                           const T* pb = b + off[1];
                           if (st[0] == 1 && st[1] == 1) {
                             for (int64_t i = 0; i < len; ++i) o[i] = f(pa[i], pb[i]);
                           } else if (st[0] == 1 && st[1] == 0) {
                             for (int64_t i = 0; i < len; ++i) o[i] = f(pa[i], pb[0]);
                           } else {
                             for (int64_t i = 0; i < len; ++i) o[i] = f(pa[i * st[0]], pb[i * st[1]]);
                           }
                           o += len;
                         });
}

template <typename F>
void numeric_binary(Inputs in, const Tensor& out, F f) {
  KILN_DISPATCH_NUMERIC(in[0].dtype(), T, binary<T, T>(in, out, f));
}

template <typename F>
void comparison(Inputs in, const Tensor& out, F f) {
  KILN_DISPATCH_ALL(in[0].dtype(), T, binary<T, bool>(in, out, f));
}

// Note [Same bits at every position]
// Eigen evaluates an array expression with SIMD packet functions, but the elements before the
// first aligned one and after the last whole packet with scalar ones (libm's exp, log, tanh;
// 1/sqrt for rsqrt), which differ from the packets' polynomials by an ulp or so. Equal inputs
// then gave unequal outputs by position: rsqrt(exp(x)) of 75 equal floats, the last 3 one ulp
// higher, which moved a max pool's gradient to another of its tied maxima (eager disagreed with
// compiled code, where each element is computed alike: fuzz seed 3944). Every element goes
// through the packet functions here: an aligned output's whole packets in one Eigen expression,
// the rest (or all, when unaligned) a packet at a time through an aligned buffer.
template <typename F>
void float_unary(Inputs in, const Tensor& out, F f) {
  KILN_DISPATCH_FLOAT(in[0].dtype(), T, {
    constexpr int kPacket = Eigen::internal::packet_traits<T>::size;
    const T* x = in[0].data<T>();
    T* o = out.data<T>();
    const int64_t n = out.num_elements();
    int64_t done = 0;
    if (reinterpret_cast<uintptr_t>(o) % 64 == 0) {
      done = n - n % kPacket;
      ArrayMap<T>(o, done) = f(ConstArrayMap<T>(x, done));
    }
    for (; done < n; done += kPacket) {
      alignas(64) T chunk[kPacket];
      const int64_t m = std::min<int64_t>(kPacket, n - done);
      for (int64_t i = 0; i < kPacket; ++i) chunk[i] = x[done + std::min(i, m - 1)];
      Eigen::Map<Eigen::Array<T, kPacket, 1>, Eigen::Aligned64> packet(chunk);
      packet = f(packet);
      std::copy_n(chunk, m, o + done);
    }
  });
}

template <typename F>
void float_loop(Inputs in, const Tensor& out, F f) {
  KILN_DISPATCH_FLOAT(in[0].dtype(), T, {
    const T* x = in[0].data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0, n = out.num_elements(); i < n; ++i) o[i] = f(x[i]);
  });
}

template <typename F>
void numeric_unary(Inputs in, const Tensor& out, F f) {
  KILN_DISPATCH_NUMERIC(in[0].dtype(), T, {
    const T* x = in[0].data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0, n = out.num_elements(); i < n; ++i) o[i] = f(x[i]);
  });
}

}  // namespace

void cpu_Add(Inputs in, const OpAttrs&, const Tensor& out) { numeric_binary(in, out, [](auto a, auto b) { return a + b; }); }
void cpu_Sub(Inputs in, const OpAttrs&, const Tensor& out) { numeric_binary(in, out, [](auto a, auto b) { return a - b; }); }
void cpu_Mul(Inputs in, const OpAttrs&, const Tensor& out) { numeric_binary(in, out, [](auto a, auto b) { return a * b; }); }

void cpu_Div(Inputs in, const OpAttrs&, const Tensor& out) {
  if (is_integer(in[1].dtype())) {
    // Integer division by zero is undefined behaviour in C++ (SIGFPE here): refuse it.
    KILN_DISPATCH_NUMERIC(in[1].dtype(), T, {
      const T* b = in[1].data<T>();
      for (int64_t i = 0, n = in[1].num_elements(); i < n; ++i)
        KILN_CHECK(b[i] != 0, "div: integer division by zero (divisor element ", i, ")");
    });
  }
  numeric_binary(in, out, [](auto a, auto b) {
    using T = decltype(a);
    if constexpr (std::is_integral_v<T>) {
      // INT_MIN / -1 overflows (SIGFPE on x86): wrap around, as numpy does.
      if (b == -1) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(a));
    }
    return a / b;
  });
}

void cpu_Pow(Inputs in, const OpAttrs&, const Tensor& out) {
  numeric_binary(in, out, [](auto a, auto b) { return static_cast<decltype(a)>(std::pow(a, b)); });
}
void cpu_Maximum(Inputs in, const OpAttrs&, const Tensor& out) {
  numeric_binary(in, out, [](auto a, auto b) { return a > b ? a : b; });
}
void cpu_Minimum(Inputs in, const OpAttrs&, const Tensor& out) {
  numeric_binary(in, out, [](auto a, auto b) { return a < b ? a : b; });
}
void cpu_Equal(Inputs in, const OpAttrs&, const Tensor& out) { comparison(in, out, [](auto a, auto b) { return a == b; }); }
void cpu_NotEqual(Inputs in, const OpAttrs&, const Tensor& out) { comparison(in, out, [](auto a, auto b) { return a != b; }); }
void cpu_Less(Inputs in, const OpAttrs&, const Tensor& out) { comparison(in, out, [](auto a, auto b) { return a < b; }); }
void cpu_Greater(Inputs in, const OpAttrs&, const Tensor& out) { comparison(in, out, [](auto a, auto b) { return a > b; }); }

void cpu_Where(Inputs in, const OpAttrs&, const Tensor& out) {
  const bool* c = in[0].data<bool>();
  KILN_DISPATCH_ALL(out.dtype(), T, {
    const T* x = in[1].data<T>();
    const T* y = in[2].data<T>();
    T* o = out.data<T>();
    cpu::broadcast_loop<3>(out.shape(), {&in[0].shape(), &in[1].shape(), &in[2].shape()},
                           [&](const std::array<int64_t, 3>& off, int64_t len, const std::array<int64_t, 3>& st) {
                             for (int64_t i = 0; i < len; ++i)
                               o[i] = c[off[0] + i * st[0]] ? x[off[1] + i * st[1]] : y[off[2] + i * st[2]];
                             o += len;
                           });
  });
}

void cpu_Neg(Inputs in, const OpAttrs&, const Tensor& out) { numeric_unary(in, out, [](auto x) { return -x; }); }
void cpu_Square(Inputs in, const OpAttrs&, const Tensor& out) { numeric_unary(in, out, [](auto x) { return x * x; }); }
void cpu_Abs(Inputs in, const OpAttrs&, const Tensor& out) { numeric_unary(in, out, [](auto x) { return x < 0 ? -x : x; }); }
void cpu_Relu(Inputs in, const OpAttrs&, const Tensor& out) {
  numeric_unary(in, out, [](auto x) { return x > 0 ? x : decltype(x){0}; });
}
void cpu_Exp(Inputs in, const OpAttrs&, const Tensor& out) { float_unary(in, out, [](const auto& x) { return x.exp(); }); }
void cpu_Log(Inputs in, const OpAttrs&, const Tensor& out) { float_unary(in, out, [](const auto& x) { return x.log(); }); }
// sqrt and rsqrt as plain loops: each step correctly rounded (vectorized or not), as compiled
// code's llvm.sqrt and 1/sqrt; Eigen's float packets (EIGEN_FAST_MATH) estimate them to an ulp.
void cpu_Sqrt(Inputs in, const OpAttrs&, const Tensor& out) {
  float_loop(in, out, [](auto x) { return std::sqrt(x); });
}
void cpu_Rsqrt(Inputs in, const OpAttrs&, const Tensor& out) {
  float_loop(in, out, [](auto x) { return decltype(x){1} / std::sqrt(x); });
}
void cpu_Tanh(Inputs in, const OpAttrs&, const Tensor& out) { float_unary(in, out, [](const auto& x) { return x.tanh(); }); }
void cpu_Sigmoid(Inputs in, const OpAttrs&, const Tensor& out) {
  float_unary(in, out, [](const auto& x) { return x.logistic(); });
}

void cpu_ReluGrad(Inputs in, const OpAttrs&, const Tensor& out) {
  KILN_DISPATCH_NUMERIC(out.dtype(), T, {
    const T* dy = in[0].data<T>();
    const T* x = in[1].data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0, n = out.num_elements(); i < n; ++i) o[i] = x[i] > 0 ? dy[i] : T{0};
  });
}

// x / (1 - rate) with 1 - rate rounded to T once, as the compiled lowering does.
void cpu_Dropout(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    const T* u = in[1].data<T>();
    T* o = out.data<T>();
    const double r = attrs.as<DropoutAttrs>().rate;
    const T rate = static_cast<T>(r), keep = static_cast<T>(1.0 - r);
    for (int64_t i = 0, n = out.num_elements(); i < n; ++i) o[i] = u[i] >= rate ? x[i] / keep : T{0};
  });
}

void cpu_Cast(Inputs in, const OpAttrs&, const Tensor& out) {
  const int64_t n = out.num_elements();
  KILN_DISPATCH_ALL(in[0].dtype(), S, {
    const S* x = in[0].data<S>();
    KILN_DISPATCH_ALL(out.dtype(), D, {
      D* o = out.data<D>();
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<D>(x[i]);
    });
  });
}

}  // namespace kiln
