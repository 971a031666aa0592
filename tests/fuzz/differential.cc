// The differential run of a fuzz program: two worlds (eager and compiled) started from equal
// state before every call, the compiled function's calls, and the comparison of their results.
#include "tests/fuzz/differential.h"

#include <cmath>
#include <memory>
#include <sstream>

#include "kiln/kiln.h"

namespace kiln::fuzz {

double relative_tolerance(DType dtype) { return dtype == DType::Float32 ? 1e-4 : dtype == DType::Float64 ? 1e-10 : 0; }

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Match: return "match";
    case Verdict::Mismatch: return "mismatch";
    case Verdict::CompiledError: return "compiled error";
    case Verdict::InvalidProgram: return "invalid program";
  }
  return "?";
}

namespace {

// A kiln::function over a program, whatever its arity.
struct CompiledFunction {
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> call;
  std::function<std::string()> explain;
  std::function<int()> compiles;
};

template <typename Fn, typename Invoke>
CompiledFunction wrap(Fn f, Invoke invoke) {
  auto shared = std::make_shared<Fn>(std::move(f));
  return {[shared, invoke](const std::vector<Tensor>& a) { return invoke(*shared, a); },
          [shared] { return shared->explain(); }, [shared] { return shared->compile_count(); }};
}

// kiln::function over `p` with one Tensor parameter per input (it takes 0 to 3).
CompiledFunction compiled_function(const Program& p, World& world, const FunctionOptions& options) {
  auto run = [&p, &world](std::vector<Tensor> args) { return execute(p, world, args); };
  switch (p.inputs.size()) {
    case 0: return wrap(kiln::function([run] { return run({}); }, options), [](auto& f, const auto&) { return f(); });
    case 1:
      return wrap(kiln::function([run](const Tensor& a) { return run({a}); }, options),
                  [](auto& f, const auto& a) { return f(a[0]); });
    case 2:
      return wrap(kiln::function([run](const Tensor& a, const Tensor& b) { return run({a, b}); }, options),
                  [](auto& f, const auto& a) { return f(a[0], a[1]); });
    default:
      return wrap(kiln::function([run](const Tensor& a, const Tensor& b, const Tensor& c) { return run({a, b, c}); }, options),
                  [](auto& f, const auto& a) { return f(a[0], a[1], a[2]); });
  }
}

// How many draws lead from `from` to `to` (a Generator is a counter: each draw adds a constant).
int draws_between(Generator from, const Generator& to) {
  for (int n = 0; n < 100000; ++n) {
    Generator a = from, b = to;
    if (a.next_seed() == b.next_seed()) return n;
    from.next_seed();
  }
  return -1;
}

// The least precise float dtype the program computes in: a float32 value cast to float64
// carries float32's rounding.
DType precision(const Program& p) {
  for (const ValueInfo& v : p.values)
    if (v.dtype == DType::Float32) return DType::Float32;
  return DType::Float64;
}

// The first lines of `text` (explain() can hold a whole module).
std::string head(const std::string& text, int lines = 30) {
  size_t at = 0;
  for (int n = 0; n < lines && at != std::string::npos; ++n) at = text.find('\n', at == 0 ? 0 : at + 1);
  return at == std::string::npos ? text : text.substr(0, at) + "\n  [...]";
}

class Comparison {
 public:
  explicit Comparison(DType precision) : precision_(precision) {}
  // Compares `got` with `want`; on a difference, records it (the first one only) and returns false.
  bool check(const Tensor& got, const Tensor& want, const std::string& what) {
    if (!failure_.empty()) return false;
    std::ostringstream os;
    if (got.defined() != want.defined()) {
      os << what << ": compiled " << (got.defined() ? "defined" : "undefined") << ", eager "
         << (want.defined() ? "defined" : "undefined");
    } else if (!got.defined()) {
      return true;
    } else if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
      os << what << ": compiled " << got.type_str() << ", eager " << want.type_str();
    } else {
      const double tol =
          relative_tolerance(is_floating(want.dtype()) && precision_ == DType::Float32 ? precision_ : want.dtype());
      const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
      int bad = 0;
      for (size_t i = 0; i < g.size(); ++i) {
        if (g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i]))) continue;
        const double allowed = tol * std::max(std::fabs(w[i]), 1.0);
        const double err = std::fabs(g[i] - w[i]);
        if (err <= allowed) {  // NaN against a number fails this test too
          worst_ratio_ = std::max(worst_ratio_, err / allowed);
          continue;
        }
        if (bad++ < 4) os << (bad == 1 ? "" : "\n") << "  " << what << " " << want.type_str() << " at flat index " << i
                          << ": compiled " << g[i] << ", eager " << w[i];
      }
      if (bad == 0) return true;
      os << "\n  (" << bad << " of " << g.size() << " elements differ)";
    }
    failure_ = os.str();
    return false;
  }
  const std::string& failure() const { return failure_; }
  double worst_ratio() const { return worst_ratio_; }

 private:
  DType precision_;
  std::string failure_;
  double worst_ratio_ = 0;
};

std::string sizes_str(const Program& p, int call) {
  std::ostringstream os;
  for (int c = 0; c < p.num_classes(); ++c)
    os << (c ? ", " : " (") << (c == 0 ? "N=" : "M=") << p.call_sizes[static_cast<size_t>(call)][static_cast<size_t>(c)];
  if (p.num_classes() > 0) os << ")";
  return os.str();
}

}  // namespace

Outcome run_differential(const Program& p, const Program* traced) {
  Outcome out;
  const Program& tp = traced != nullptr ? *traced : p;
  World eager(p), compiled(tp);
  FunctionOptions options;
  options.name = "fuzz_" + std::to_string(p.seed);
  const std::vector<std::vector<int64_t>> signature = p.signature();
  for (size_t k = 0; k < p.inputs.size(); ++k)
    options.input_signature.push_back(TensorSpec{signature[k], p.values[static_cast<size_t>(p.inputs[k])].dtype});
  CompiledFunction fn = compiled_function(tp, compiled, options);
  Comparison cmp(precision(p));
  const int calls = static_cast<int>(p.call_sizes.size());
  for (int call = 0; call < calls && cmp.failure().empty(); ++call) {
    const std::string where = "call " + std::to_string(call) + sizes_str(p, call);
    const std::vector<Tensor> args = call_arguments(p, call);
    // Both worlds start the call from equal state: initial variables (on the grid, so that kinks
    // decide alike), eager's optimizer slots, one generator seed.
    eager.reset_variables(p);
    compiled.reset_variables(p);
    const std::vector<Variable> eager_slots = eager.slots(), compiled_slots = compiled.slots();
    for (size_t k = 0; k < eager_slots.size(); ++k) compiled_slots[k].assign(eager_slots[k]);
    const uint64_t gen_seed = p.seed * 1000 + static_cast<uint64_t>(call);
    compiled.generator.reseed(gen_seed);
    std::vector<Tensor> got;
    std::string compiled_error;
    try {
      for (const Tensor& t : fn.call(args)) got.push_back(t.defined() ? t.clone() : t);
    } catch (const std::exception& e) {  // kiln::Error, or worse
      compiled_error = e.what();
    }
    // A trace (first call) or size check (new sizes) runs the host code, whose random ops draw
    // too: eager starts where the compiled run's own draws started (its last random_draws()).
    eager.generator.reseed(gen_seed);
    const int draws = compiled_error.empty() ? draws_between(Generator(gen_seed), compiled.generator) : 0;
    for (int k = 0; k < draws - p.random_draws(); ++k) eager.generator.next_seed();
    std::vector<Tensor> want;
    try {
      want = execute(p, eager, args);
    } catch (const std::exception& e) {
      out.verdict = Verdict::InvalidProgram;
      out.detail = where + ": eager threw: " + e.what();
      return out;
    }
    if (!compiled_error.empty()) {
      out.verdict = Verdict::CompiledError;
      out.detail = where + ": the compiled function threw where eager ran: " + head(compiled_error);
      return out;
    }
    if (got.size() != want.size()) {
      out.verdict = Verdict::Mismatch;
      out.detail = where + ": " + std::to_string(got.size()) + " outputs compiled, " + std::to_string(want.size()) + " eager";
      return out;
    }
    for (size_t k = 0; k < got.size(); ++k)
      cmp.check(got[k], want[k], where + ": output " + std::to_string(k) + " (%" + std::to_string(p.outputs[k]) + ")");
    for (size_t k = 0; k < p.variables.size(); ++k)
      cmp.check(compiled.variables[k], eager.variables[k], where + ": variable @" + std::to_string(p.variables[k]));
    const std::vector<Variable> eager_after = eager.slots(), compiled_after = compiled.slots();
    for (size_t k = 0; k < eager_after.size(); ++k)
      cmp.check(compiled_after[k], eager_after[k], where + ": optimizer slot " + std::to_string(k));
  }
  out.worst_ratio = cmp.worst_ratio();
  out.explain = fn.explain();
  out.compiles = fn.compiles();
  out.interpreted = out.explain.find("interpreted") != std::string::npos;
  out.per_size = out.explain.find("compiled per size") != std::string::npos;
  if (out.explain.find("compiling failed") != std::string::npos && cmp.failure().empty()) {
    out.verdict = Verdict::CompiledError;
    out.detail = "a graph failed to compile (it ran on the interpreter):\n" + head(out.explain);
    return out;
  }
  if (!cmp.failure().empty()) {
    out.verdict = Verdict::Mismatch;
    out.detail = cmp.failure();
  }
  return out;
}

}  // namespace kiln::fuzz
