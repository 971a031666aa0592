// Relaxed dims: instantiating a template graph for a call's sizes, and comparing two graphs.
#include "kiln/tracer/relaxed_dims.h"

#include <cmath>
#include <sstream>

#include "kiln/tracer/signature.h"

namespace kiln::tracer {

bool relaxed_dim_multiple(int64_t d, int* cls, int64_t* multiple) {
  if (d <= 0) return false;
  for (int k = 0; k < kMaxRelaxedClasses; ++k) {
    int64_t p = relaxed_dim_placeholder(k);
    if (d % p == 0 && d / p < relaxed_dim_placeholder(0)) {
      *cls = k;
      *multiple = d / p;
      return true;
    }
  }
  return false;
}

std::optional<RelaxedScalar> relaxed_scalar(const Tensor& t) {
  if (t.num_elements() != 1 || t.dtype() == DType::Bool) return std::nullopt;
  double v = t.item<double>();
  int cls;
  int64_t m;
  if (std::fabs(v) >= static_cast<double>(relaxed_dim_placeholder(0)) && v == std::floor(v) &&
      relaxed_dim_multiple(static_cast<int64_t>(std::fabs(v)), &cls, &m))
    return RelaxedScalar{cls, v < 0 ? -m : m, false};
  if (v == 0 || std::fabs(v) >= 1 || !is_floating(t.dtype())) return std::nullopt;
  double r = 1.0 / v;
  for (int k = 0; k < kMaxRelaxedClasses; ++k) {
    double q = r / static_cast<double>(relaxed_dim_placeholder(k));
    if (std::fabs(q) >= 1 && std::fabs(q - std::round(q)) < 1e-4 * std::fabs(q))
      return RelaxedScalar{k, static_cast<int64_t>(std::round(q)), true};
  }
  return std::nullopt;
}

namespace {

int64_t follow(int64_t d, const std::vector<int64_t>& sizes) {
  int cls;
  int64_t m;
  if (!relaxed_dim_multiple(d, &cls, &m)) return d;
  KILN_ASSERT(static_cast<size_t>(cls) < sizes.size(), "every placeholder class of a template has a call size");
  return m * sizes[static_cast<size_t>(cls)];
}

Shape follow(const Shape& s, const std::vector<int64_t>& sizes) {
  Shape out = s;
  for (int d = 0; d < s.rank(); ++d) out[d] = follow(s[d], sizes);
  return out;
}

// One element of `dtype` holding `value`, shaped like `like` (a [1] or [1,1] constant stays so).
Tensor one_element(double value, DType dtype, const Shape& like) {
  Tensor t = Tensor::scalar(value, dtype);
  t.impl().shape = like;
  return t;
}

// A scalar constant the host computed from a placeholder (relaxed_scalar), at the call's sizes.
std::optional<Tensor> follow_scalar(const Tensor& t, const std::vector<int64_t>& sizes) {
  std::optional<RelaxedScalar> r = relaxed_scalar(t);
  if (!r || static_cast<size_t>(r->cls) >= sizes.size()) return std::nullopt;
  const double n = static_cast<double>(r->multiple) * static_cast<double>(sizes[static_cast<size_t>(r->cls)]);
  return one_element(r->reciprocal ? 1.0 / n : n, t.dtype(), t.shape());
}

std::string attrs_str(const OpAttrs& a) {
  std::ostringstream os;
  os << "ints [";
  for (int i = 0; i < a.ints.size(); ++i) os << (i ? "," : "") << a.ints[i];
  os << "], shape " << a.shape.str() << ", f " << a.f0 << "/" << a.f1 << "/" << a.f2 << ", i0 " << a.i0 << ", b "
     << a.b0 << a.b1 << ", dtype " << dtype_name(a.dtype);
  return os.str();
}

bool same_attrs(const OpAttrs& a, const OpAttrs& b) {
  if (a.ints.size() != b.ints.size() || a.shape != b.shape || a.f0 != b.f0 || a.f1 != b.f1 || a.f2 != b.f2 ||
      (a.i0 != b.i0 && (a.generator == nullptr || a.generator != b.generator)) || a.b0 != b.b0 || a.b1 != b.b1 || a.dtype != b.dtype)
    return false;
  for (int i = 0; i < a.ints.size(); ++i)
    if (a.ints[i] != b.ints[i]) return false;
  return true;
}

// Equal values, up to the rounding of computing a reciprocal in another order.
bool same_constant(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  const double tol = a.dtype() == DType::Float32 ? 1e-6 : a.dtype() == DType::Float64 ? 1e-14 : 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= tol * std::fabs(y[i]) || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
  return true;
}

}  // namespace

namespace {
// Shapes and attributes of `g` and of its regions (which hold no constants) follow `sizes`.
void follow_graph(Graph& g, const std::vector<int64_t>& sizes) {
  for (GraphValue& v : g.values) v.shape = follow(v.shape, sizes);
  for (GraphNode& n : g.nodes) {
    n.attrs.shape = follow(n.attrs.shape, sizes);
    for (int i = 0; i < n.attrs.ints.size(); ++i) n.attrs.ints.v[i] = follow(n.attrs.ints[i], sizes);
    for (std::shared_ptr<const Graph>& region : n.regions) {
      auto copy = std::make_shared<Graph>(*region);  // regions are shared with the template
      follow_graph(*copy, sizes);
      region = std::move(copy);
    }
  }
}
}  // namespace

std::optional<Graph> instantiate(const Graph& tmpl, const std::vector<int64_t>& sizes, std::string* why) {
  Graph g = tmpl;
  follow_graph(g, sizes);
  for (Tensor& c : g.constants) {
    if (follow(c.shape(), sizes) != c.shape()) {
      *why = "the trace captured a host tensor " + type_str(c.dtype(), c.shape()) +
             " shaped by a -1 dim (build it with ops such as kiln::ones_like instead)";
      return std::nullopt;
    }
    if (std::optional<Tensor> s = follow_scalar(c, sizes)) c = *s;
  }
  return g;
}

std::string graph_difference(const Graph& a, const Graph& b) {
  std::ostringstream os;
  if (a.values.size() != b.values.size() || a.nodes.size() != b.nodes.size()) {
    os << a.nodes.size() << " ops and " << a.values.size() << " values vs " << b.nodes.size() << " ops and "
       << b.values.size() << " values";
    return os.str();
  }
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const GraphNode &x = a.nodes[i], &y = b.nodes[i];
    const char* name = x.name();
    if (x.kind != y.kind || x.op != y.op) os << "node " << i << ": `" << name << "` vs `" << y.name() << "`";
    else if (x.inputs != y.inputs || x.output != y.output || x.results != y.results || x.loop_vars != y.loop_vars)
      os << "node " << i << " (`" << name << "`): other inputs";
    else if (!same_attrs(x.attrs, y.attrs))
      os << "node " << i << " (`" << name << "`): attributes " << attrs_str(x.attrs) << " vs " << attrs_str(y.attrs);
    for (size_t r = 0; os.tellp() == 0 && r < x.regions.size(); ++r)
      if (std::string d = graph_difference(*x.regions[r], *y.regions[r]); !d.empty())
        os << "node " << i << " (`" << name << "`), region " << x.regions[r]->name << ": " << d;
    if (os.tellp() > 0) return os.str();
  }
  for (size_t v = 0; v < a.values.size(); ++v) {
    const GraphValue &x = a.values[v], &y = b.values[v];
    if (x.kind != y.kind || x.index != y.index || x.dtype != y.dtype || x.shape != y.shape) {
      os << "value %" << v << ": " << type_str(x.dtype, x.shape) << " vs " << type_str(y.dtype, y.shape);
      return os.str();
    }
  }
  if (a.constants.size() != b.constants.size()) return "a different number of captured constants";
  for (size_t c = 0; c < a.constants.size(); ++c)
    if (!same_constant(a.constants[c], b.constants[c])) {
      os << "captured constant %c" << c << " (" << type_str(a.constants[c].dtype(), a.constants[c].shape())
         << ") has other values";
      return os.str();
    }
  if (a.variables.size() != b.variables.size()) return "a different number of captured variables";
  for (size_t k = 0; k < a.variables.size(); ++k)
    if (!a.variables[k].var.is_same(b.variables[k].var)) return "captured variable %v" + std::to_string(k) + " differs";
  if (a.arguments != b.arguments || a.outputs != b.outputs) return "other arguments or results";
  return "";
}

}  // namespace kiln::tracer
