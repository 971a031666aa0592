// The op-level tests' shared machinery: case registries keyed by op name (checked against
// kiln::all_ops()), an op-counting interceptor, plain-loop reference helpers and the float64
// central-difference gradient checker (first order and Hessian-vector products).
#pragma once
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/core/dispatch.h"
#include "kiln/core/op_def.h"
#include "kiln/ops.h"

namespace kiln::test {

// ---- Case registries ------------------------------------------------------------------------
// A case is a plain function with gtest assertions, registered under the names of the ops it
// exercises. The table tests (OpReferenceTable, GradCheckTable) fail for every op of
// kiln::all_ops() that has no case, and for every case that never calls the op it claims.

using CaseFn = void (*)();
struct OpCase {
  const char* label;
  CaseFn fn;
};
using CaseRegistry = std::map<std::string, std::vector<OpCase>>;

inline CaseRegistry& reference_cases() {
  static CaseRegistry registry;
  return registry;
}
inline CaseRegistry& gradient_cases() {
  static CaseRegistry registry;
  return registry;
}

struct RegisterCase {
  RegisterCase(CaseRegistry& registry, const char* label, CaseFn fn, std::initializer_list<const char*> ops) {
    for (const char* op : ops) registry[op].push_back({label, fn});
  }
};

#define KILN_TEST_CASE_(registry, label, ...)                                                    \
  static void label();                                                                           \
  static const ::kiln::test::RegisterCase label##_registered(registry(), #label, &label, {__VA_ARGS__}); \
  static void label()
/// OP_REFERENCE_CASE(label, "op", ...) { ... }: eager results against plain C++ loops.
#define OP_REFERENCE_CASE(label, ...) KILN_TEST_CASE_(::kiln::test::reference_cases, label, __VA_ARGS__)
/// GRAD_CHECK_CASE(label, "op", ...) { ... }: tape gradients against central differences.
#define GRAD_CHECK_CASE(label, ...) KILN_TEST_CASE_(::kiln::test::gradient_cases, label, __VA_ARGS__)

inline std::vector<std::string> all_op_names() {
  std::vector<std::string> names;
  for (const OpDef& op : all_ops()) names.emplace_back(op.name);
  return names;
}

/// Counts the ops called while alive. It sits where the tracer would (OpInterceptor) and runs
/// each op's CPU kernel exactly as eager dispatch does, so results are unchanged. Only the
/// coverage tests use it; the per-op tests run through ordinary dispatch.
class OpCounter : public OpInterceptor {
 public:
  OpCounter() : prev_(set_op_interceptor(this)) {}
  ~OpCounter() override { set_op_interceptor(prev_); }
  OpCounter(const OpCounter&) = delete;
  OpCounter& operator=(const OpCounter&) = delete;

  Tensor intercept(const OpDef& op, Inputs in, const OpAttrs& attrs, const TensorMeta& meta) override {
    ++counts_[op.name];
    Device device = in.empty() ? Device::cpu() : in[0].device();
    Tensor out = op.in_place() ? in[0] : Tensor::empty(meta.shape, meta.dtype, device);
    op.kernels[static_cast<int>(device.type)](in, attrs, out);
    return out;
  }
  int count(const std::string& op) const {
    auto it = counts_.find(op);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  OpInterceptor* prev_;
  std::map<std::string, int> counts_;
};

/// "a, b, c" for failure messages.
inline std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

/// Ops of the table with no case in `registry` (only differentiable ops when `differentiable`).
inline std::vector<std::string> ops_without_case(const CaseRegistry& registry, bool differentiable) {
  std::vector<std::string> missing;
  for (const OpDef& op : all_ops())
    if ((!differentiable || op.grad != nullptr) && registry.count(op.name) == 0) missing.emplace_back(op.name);
  return missing;
}

/// Names a case is registered under that are not ops of the table (or, for gradient cases, not
/// differentiable ones): a typo there would silently leave an op uncovered.
inline std::vector<std::string> cases_for_unknown_ops(const CaseRegistry& registry, bool differentiable) {
  std::vector<std::string> unknown;
  for (const auto& [name, cases] : registry) {
    bool found = false;
    for (const OpDef& op : all_ops()) found |= name == op.name && (!differentiable || op.grad != nullptr);
    if (!found) unknown.push_back(name);
  }
  return unknown;
}

/// "label -> op" for each case that never calls an op it is registered under. Every case runs
/// once more under an OpCounter, its assertion failures swallowed (the per-op tests report them).
inline std::vector<std::string> cases_not_calling_their_op(const CaseRegistry& registry) {
  std::map<CaseFn, std::vector<std::string>> ops_of;
  std::map<CaseFn, const char*> label_of;
  for (const auto& [name, cases] : registry)
    for (const OpCase& c : cases) {
      ops_of[c.fn].push_back(name);
      label_of[c.fn] = c.label;
    }
  std::vector<std::string> bad;
  for (const auto& [fn, ops] : ops_of) {
    OpCounter counter;
    {
      ::testing::TestPartResultArray swallowed;
      ::testing::ScopedFakeTestPartResultReporter quiet(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &swallowed);
      try {
        fn();
      } catch (const std::exception&) {
      }
    }
    for (const std::string& op : ops)
      if (counter.count(op) == 0) bad.push_back(std::string(label_of[fn]) + " -> " + op);
  }
  return bad;
}

/// The body of a per-op table test: runs every case registered for `op`.
inline void run_cases(const CaseRegistry& registry, const std::string& op, const char* kind) {
  auto it = registry.find(op);
  ASSERT_NE(it, registry.end()) << "op '" << op << "' has no " << kind << " case";
  for (const OpCase& c : it->second) {
    SCOPED_TRACE(c.label);
    c.fn();
  }
}

// ---- Values and reference loops -------------------------------------------------------------

/// Deterministic uniform doubles in [lo, hi).
inline std::vector<double> uniform(int64_t n, double lo, double hi, uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = dist(engine);
  return v;
}

/// A tensor of `dtype` holding `values` (converted; bool is value != 0).
inline Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype = DType::Float32) {
  Tensor t = Tensor::empty(shape, dtype);
  EXPECT_EQ(static_cast<int64_t>(values.size()), shape.num_elements()) << "make: wrong value count";
  KILN_DISPATCH_ALL(dtype, T, {
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<T, bool>) p[i] = values[i] != 0;
      else p[i] = static_cast<T>(values[i]);
    }
  });
  return t;
}

/// Random values in [lo, hi) of `dtype`; integer dtypes get floored values, bool about half true.
inline Tensor random(const Shape& shape, DType dtype, double lo, double hi, uint32_t seed) {
  if (dtype == DType::Bool) lo = 0, hi = 2;  // about half true
  std::vector<double> v = uniform(shape.num_elements(), lo, hi, seed);
  if (!is_floating(dtype))
    for (double& x : v) x = std::floor(x);
  if (dtype == DType::Float32)
    for (double& x : v) x = static_cast<float>(x);
  return make(v, shape, dtype);
}

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

inline std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(static_cast<size_t>(s.rank()));
  for (int d = s.rank() - 1; d >= 0; --d) {
    idx[static_cast<size_t>(d)] = s[d] == 0 ? 0 : flat % s[d];
    flat = s[d] == 0 ? 0 : flat / s[d];
  }
  return idx;
}

inline int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t flat = 0;
  for (int d = 0; d < s.rank(); ++d) flat = flat * s[d] + idx[static_cast<size_t>(d)];
  return flat;
}

/// Flat offset into a tensor of shape `in` at the output index `out_idx`, numpy broadcasting.
inline int64_t broadcast_offset(const std::vector<int64_t>& out_idx, const Shape& in) {
  const int lead = static_cast<int>(out_idx.size()) - in.rank();
  int64_t flat = 0;
  for (int d = 0; d < in.rank(); ++d)
    flat = flat * in[d] + (in[d] == 1 ? 0 : out_idx[static_cast<size_t>(d + lead)]);
  return flat;
}

/// numpy's broadcast of two shapes (assumed compatible), written independently of Kiln's.
inline Shape broadcast(const Shape& a, const Shape& b) {
  const int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    const int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

/// got has `shape`, `dtype`, and values within atol + rtol * |want| of `want` (NaN matches NaN).
inline ::testing::AssertionResult tensor_near(const Tensor& got, const Shape& shape, DType dtype,
                                              const std::vector<double>& want, double rtol = 0, double atol = 0) {
  if (!got.defined()) return ::testing::AssertionFailure() << "result is an undefined Tensor";
  if (got.shape() != shape || got.dtype() != dtype)
    return ::testing::AssertionFailure() << "result is " << dtype_name(got.dtype()) << got.shape().str()
                                         << ", expected " << dtype_name(dtype) << shape.str();
  if (static_cast<int64_t>(want.size()) != shape.num_elements())
    return ::testing::AssertionFailure() << "test bug: " << want.size() << " expected values for " << shape.str();
  std::vector<double> v = values(got);
  std::ostringstream bad;
  int mismatches = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const bool both_nan = std::isnan(v[i]) && std::isnan(want[i]);
    if (both_nan || v[i] == want[i] || std::fabs(v[i] - want[i]) <= atol + rtol * std::fabs(want[i])) continue;
    if (mismatches++ < 6)
      bad << "\n  at " << i << " (index " << ::testing::PrintToString(unravel(static_cast<int64_t>(i), shape))
          << "): got " << v[i] << ", want " << want[i];
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << mismatches << " of " << v.size() << " values differ" << bad.str();
}

/// Tolerances for comparing a kernel with a double-precision loop.
inline double rtol_for(DType dtype) { return dtype == DType::Float32 ? 2e-6 : dtype == DType::Float64 ? 1e-13 : 0; }
inline double atol_for(DType dtype) { return dtype == DType::Float32 ? 1e-6 : dtype == DType::Float64 ? 1e-14 : 0; }

/// The result of casting `x` to `dtype` in C++ (what a reference loop stores).
inline double as_dtype(double x, DType dtype) {
  switch (dtype) {
    case DType::Float32: return static_cast<float>(x);
    case DType::Float64: return x;
    case DType::Int32: return static_cast<int32_t>(x);
    case DType::Int64: return static_cast<double>(static_cast<int64_t>(x));
    case DType::Bool: return x != 0 ? 1 : 0;
  }
  return x;
}

// ---- Gradient checks ------------------------------------------------------------------------

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradCheckOptions {
  double eps = 1e-6;   ///< central-difference step for first derivatives
  double tol = 1e-6;   ///< |analytic - numeric| <= tol * (1 + |numeric|)
  bool second_order = true;  ///< also check Hessian-vector products through nested tapes
  double eps2 = 1e-5;  ///< step for differences of the first derivative
  double tol2 = 1e-5;
};

/// Dyadic weights (k + 1/2) / 8, k in [-8, 8): never zero, exact in float32.
inline Tensor dyadic_weights(const Shape& shape, DType dtype, uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> k(-8, 7);
  std::vector<double> v(static_cast<size_t>(shape.num_elements()));
  for (double& x : v) x = (k(engine) + 0.5) / 8.0;
  return make(v, shape, dtype);
}

namespace detail {
inline double weighted_sum(const Tensor& y, const std::vector<double>& w) {
  std::vector<double> v = values(y);
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}

inline Tensor with_values(const Tensor& like, const std::vector<double>& v) {
  return make(v, like.shape(), like.dtype());
}

// Tape gradients of sum(f(in) * w) for the inputs `wrt`, watching only those.
inline std::vector<Tensor> tape_gradients(const TensorFn& f, const std::vector<Tensor>& in,
                                          const std::vector<size_t>& wrt, const Tensor& w) {
  GradientTape tape;
  std::vector<Tensor> sources;
  for (size_t k : wrt) sources.push_back(in[k]);
  tape.watch(sources);
  Tensor loss = reduce_sum(f(in) * w);
  return tape.gradient(loss, sources, {}, UnconnectedGradients::Zero);
}

inline ::testing::AssertionResult grads_near(const std::vector<Tensor>& got, const std::vector<std::vector<double>>& want,
                                             const std::vector<Tensor>& like, const std::vector<size_t>& wrt,
                                             double tol, const char* what) {
  for (size_t j = 0; j < wrt.size(); ++j) {
    const Tensor& x = like[wrt[j]];
    ::testing::AssertionResult r = tensor_near(got[j], x.shape(), x.dtype(), want[j], tol, tol);
    if (!r) return ::testing::AssertionFailure() << what << " of input " << wrt[j] << ": " << r.message();
  }
  return ::testing::AssertionSuccess();
}
}  // namespace detail

/// Checks GradientTape gradients of loss = reduce_sum(f(inputs) * w), w fixed and random, against
/// central differences, for the float inputs `wrt` (all float inputs when empty): once with all of
/// them watched, and once per input watched alone. With second_order, also checks the
/// Hessian-vector product H v from nested tapes against differences of the first derivative.
inline void check_gradients(const TensorFn& f, const std::vector<Tensor>& inputs, std::vector<size_t> wrt = {},
                            const GradCheckOptions& opt = {}) {
  if (wrt.empty())
    for (size_t k = 0; k < inputs.size(); ++k)
      if (is_floating(inputs[k].dtype())) wrt.push_back(k);
  const Tensor y0 = f(inputs);
  const Tensor w = dyadic_weights(y0.shape(), y0.dtype(), 1234);
  const std::vector<double> wv = values(w);

  // Central differences of the loss, element by element.
  std::vector<std::vector<double>> numeric;
  for (size_t k : wrt) {
    std::vector<double> x = values(inputs[k]), g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      std::vector<Tensor> in = inputs;
      const double x0 = x[i];
      x[i] = x0 + opt.eps;
      in[k] = detail::with_values(inputs[k], x);
      const double up = detail::weighted_sum(f(in), wv);
      x[i] = x0 - opt.eps;
      in[k] = detail::with_values(inputs[k], x);
      const double down = detail::weighted_sum(f(in), wv);
      x[i] = x0;
      g[i] = (up - down) / (2 * opt.eps);
    }
    numeric.push_back(std::move(g));
  }

  EXPECT_TRUE(detail::grads_near(detail::tape_gradients(f, inputs, wrt, w), numeric, inputs, wrt, opt.tol,
                                 "gradient (all watched)"));
  if (wrt.size() > 1) {
    for (size_t j = 0; j < wrt.size(); ++j)
      EXPECT_TRUE(detail::grads_near(detail::tape_gradients(f, inputs, {wrt[j]}, w), {numeric[j]}, inputs,
                                     {wrt[j]}, opt.tol, "gradient (watched alone)"));
  }
  if (!opt.second_order) return;

  // H v through nested tapes: the outer tape records the inner tape's gradient ops.
  std::vector<Tensor> dirs;
  for (size_t j = 0; j < wrt.size(); ++j)
    dirs.push_back(dyadic_weights(inputs[wrt[j]].shape(), inputs[wrt[j]].dtype(), 77 + static_cast<uint32_t>(j)));
  std::vector<Tensor> hv;
  {
    std::vector<Tensor> sources;
    for (size_t k : wrt) sources.push_back(inputs[k]);
    GradientTape outer;
    outer.watch(sources);
    Tensor gv;
    {
      GradientTape inner;
      inner.watch(sources);
      Tensor loss = reduce_sum(f(inputs) * w);
      std::vector<Tensor> g = inner.gradient(loss, sources, {}, UnconnectedGradients::Zero);
      for (size_t j = 0; j < g.size(); ++j) {
        Tensor term = reduce_sum(g[j] * dirs[j]);
        gv = gv.defined() ? gv + term : term;
      }
    }
    hv = outer.gradient(gv, sources, {}, UnconnectedGradients::Zero);
  }
  std::vector<Tensor> plus = inputs, minus = inputs;
  for (size_t j = 0; j < wrt.size(); ++j) {
    std::vector<double> x = values(inputs[wrt[j]]), d = values(dirs[j]), xp(x.size()), xm(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      xp[i] = x[i] + opt.eps2 * d[i];
      xm[i] = x[i] - opt.eps2 * d[i];
    }
    plus[wrt[j]] = detail::with_values(inputs[wrt[j]], xp);
    minus[wrt[j]] = detail::with_values(inputs[wrt[j]], xm);
  }
  std::vector<Tensor> gp = detail::tape_gradients(f, plus, wrt, w), gm = detail::tape_gradients(f, minus, wrt, w);
  std::vector<std::vector<double>> hv_numeric;
  for (size_t j = 0; j < wrt.size(); ++j) {
    std::vector<double> a = values(gp[j]), b = values(gm[j]), h(a.size());
    for (size_t i = 0; i < a.size(); ++i) h[i] = (a[i] - b[i]) / (2 * opt.eps2);
    hv_numeric.push_back(std::move(h));
  }
  EXPECT_TRUE(detail::grads_near(hv, hv_numeric, inputs, wrt, opt.tol2, "Hessian-vector product"));
}

/// Shorthand for the common call: f applied to float64 inputs.
inline Tensor f64(const std::vector<double>& v, const Shape& s) { return make(v, s, DType::Float64); }
inline Tensor rand64(const Shape& s, double lo, double hi, uint32_t seed) { return random(s, DType::Float64, lo, hi, seed); }

}  // namespace kiln::test
