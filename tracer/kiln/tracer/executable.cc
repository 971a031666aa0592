// Executable: compile-or-interpret for one traced graph, and KILN_VERIFY's eager cross-check.
#include "kiln/tracer/executable.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "kiln/ops.h"

namespace kiln::tracer {

namespace {
bool verify_requested() {
  const char* v = std::getenv("KILN_VERIFY");
  return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
}

// Note [KILN_VERIFY]
// A compiled call and the interpreter (each node's eager kernel) agree up to the rounding of a
// different evaluation order: float32 1e-4 relative (above an absolute 1e-5), float64 1e-10,
// integers and bools exactly. The first difference beyond that names the value and the element.
// Random ops draw a new seed from their generator on every run (draw_seed): the eager run starts
// from the generators' states the compiled call started from, so both draw the same numbers, and
// the generators end where one run leaves them.
std::string difference(const Tensor& compiled, const Tensor& eager) {
  if (compiled.defined() != eager.defined()) return "one result is undefined";
  if (!compiled.defined()) return "";
  if (compiled.dtype() != eager.dtype() || compiled.shape() != eager.shape())
    return "compiled " + ir::type_str(compiled.dtype(), compiled.shape()) + " vs eager " +
           ir::type_str(eager.dtype(), eager.shape());
  const double rtol = compiled.dtype() == DType::Float32 ? 1e-4 : compiled.dtype() == DType::Float64 ? 1e-10 : 0;
  const double atol = compiled.dtype() == DType::Float32 ? 1e-5 : compiled.dtype() == DType::Float64 ? 1e-12 : 0;
  std::vector<double> c = compiled.to_vector<double>(), e = eager.to_vector<double>();
  for (size_t i = 0; i < c.size(); ++i) {
    bool same = std::fabs(c[i] - e[i]) <= atol + rtol * std::fabs(e[i]) || (std::isnan(c[i]) && std::isnan(e[i]));
    if (same) continue;
    std::ostringstream os;
    os << "element " << i << ": compiled " << c[i] << " vs eager " << e[i];
    return os.str();
  }
  return "";
}

// The interpreter's (and KILN_VERIFY's) form of the arguments: handles, undefined for non-tensors.
std::vector<Tensor> argument_tensors(std::span<const Tensor* const> arguments) {
  std::vector<Tensor> tensors(arguments.size());
  for (size_t k = 0; k < arguments.size(); ++k)
    if (arguments[k] != nullptr) tensors[k] = *arguments[k];
  return tensors;
}

// Copies `value` into `var`'s own storage (the variable keeps its buffer).
void restore(const Variable& var, const Tensor& value) {
  make_storage_unique(var);
  std::memcpy(var.raw_data(), value.raw_data(), static_cast<size_t>(value.num_elements()) * dtype_size(value.dtype()));
}
}  // namespace

Executable::Executable(ir::Graph graph, bool compile)
    : graph_(std::move(graph)), runner_(graph_), verify_(verify_requested()) {
  if (!compile) {
    why_ = "compilation is off (FunctionOptions::compile)";
    return;
  }
  const Backend* compiler = backend();
  if (compiler == nullptr) {
    why_ = "no compiler backend is linked (Note [Backends] in tracer/kiln/tracer/backend.cc)";
    return;
  }
  why_ = compiler->lowering_gap(graph_);
  if (!why_.empty()) return;
  try {
    compiled_ = compiler->compile(graph_);
  } catch (const Error& e) {
    why_ = std::string("compiling failed: ") + e.what();
  }
}

std::vector<Tensor> Executable::run(std::span<const Tensor* const> arguments, const ir::GraphRunner* eager) const {
  if (compiled_ == nullptr) return runner_.run(argument_tensors(arguments));
  if (verify_) return run_verified(argument_tensors(arguments), eager != nullptr ? *eager : runner_);
  return compiled_->run_by_pointer(arguments);
}

std::vector<Tensor> Executable::run_verified(const std::vector<Tensor>& arguments, const ir::GraphRunner& eager_runner) const {
  std::vector<Tensor> before;
  for (const ir::GraphVariable& gv : graph_.variables) before.push_back(gv.var.clone());
  std::vector<std::pair<Generator*, Generator>> generators;
  for (const ir::GraphNode& n : graph_.nodes) {
    Generator* g = n.attrs.generator();
    if (g != nullptr && std::none_of(generators.begin(), generators.end(), [g](const auto& s) { return s.first == g; }))
      generators.emplace_back(g, *g);
  }
  std::vector<Tensor> compiled = compiled_->run(arguments);
  std::vector<Tensor> compiled_vars;
  for (const ir::GraphVariable& gv : graph_.variables) compiled_vars.push_back(gv.var.clone());
  for (size_t k = 0; k < before.size(); ++k) restore(graph_.variables[k].var, before[k]);
  for (auto& [generator, state] : generators) *generator = state;
  std::vector<Tensor> eager = eager_runner.run(arguments);
  auto fail = [&](const std::string& what, const std::string& diff) {
    throw Error("KILN_VERIFY: kiln::function '" + graph_.name + "': " + what +
                " differs between the compiled code and eager execution: " + diff);
  };
  for (size_t i = 0; i < eager.size(); ++i)
    if (std::string d = difference(compiled[i], eager[i]); !d.empty()) fail("result " + std::to_string(i), d);
  for (size_t k = 0; k < compiled_vars.size(); ++k)
    if (std::string d = difference(compiled_vars[k], graph_.variables[k].var); !d.empty())
      fail("variable '" + graph_.variables[k].var.name() + "'", d);
  return eager;
}

const std::string& Executable::stage_text(Stage stage) const {
  KILN_CHECK(compiled_ != nullptr, "kiln::function '", graph_.name, "': no ", stage_name(stage),
             " IR: the graph runs on the interpreter (", why_, ")");
  return compiled_->stage_text(stage);
}

std::string Executable::summary() const {
  if (compiled_ == nullptr) return "interpreted: " + why_;
  std::ostringstream os;
  os << "compiled in " << static_cast<int>(compiled_->compile_ms() + 0.5) << " ms";
  if (compiled_->from_disk_cache()) os << " (from the disk cache)";
  return os.str();
}

}  // namespace kiln::tracer
