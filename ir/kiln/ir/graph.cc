// kiln::ir::Graph: value bookkeeping, liveness and the readable text form.
#include "kiln/ir/graph.h"

#include <sstream>
#include <type_traits>

namespace kiln::ir {

// Note [Regions]
// kiln::cond and kiln::while_loop become one node each whose regions are nested Graphs: then and
// else, or cond and body. A region graph is closed: it has no constants or variables of its own;
// everything it reads from outside (an enclosing value, a captured eager tensor, a variable's
// current value) enters as a region argument, fed by one of the node's inputs (its captures).
// So a region is a function of its arguments, which the interpreter runs with GraphRunner, the
// compiler emits inside scf.if / scf.while, and a gradient replays (region_replay.h). Regions
// never write variables (TraceContext refuses), so every side effect stays at the top level.
// The node's argument positions: Cond: region argument k is input 1 + k (input 0 is the pred);
// WhileLoop: region argument i is input i (loop vars first, then the captures). A region's
// `arguments` entry is -1 where that region does not read the capture.

const char* GraphNode::name() const {
  switch (kind) {
    case NodeKind::Op: return op_def(op).name;
    case NodeKind::Cond: return "cond";
    case NodeKind::WhileLoop: return "while_loop";
  }
  return "?";
}

std::vector<int> GraphNode::defined_values() const {
  if (has_regions()) return results;
  if (writes.empty()) return {output};
  std::vector<int> v;
  for (const Write& w : writes) v.push_back(w.value);
  return v;
}

int Graph::add_value(ValueKind kind, DType dtype, const Shape& shape, int index) {
  values.push_back(GraphValue{kind, dtype, shape, index});
  return static_cast<int>(values.size()) - 1;
}

std::vector<bool> Graph::live_nodes() const {
  std::vector<bool> live(nodes.size(), false), needed(values.size(), false);
  for (int o : outputs)
    if (o != kUndefinedOutput) needed[static_cast<size_t>(o)] = true;
  for (size_t i = nodes.size(); i-- > 0;) {
    const GraphNode& n = nodes[i];
    bool is_live = !n.writes.empty() || needed[static_cast<size_t>(n.output)];
    for (const GraphNode::Write& w : n.writes) is_live |= needed[static_cast<size_t>(w.value)];
    for (int r : n.results) is_live |= needed[static_cast<size_t>(r)];
    if (!is_live) continue;
    live[i] = true;
    for (int v : n.inputs) needed[static_cast<size_t>(v)] = true;
  }
  return live;
}

Graph Graph::pruned() const {
  const std::vector<bool> live = live_nodes();
  // `used` starts as what is read (so a cond result nobody reads is dropped), then gains what
  // live nodes define.
  std::vector<bool> used(values.size(), false);
  for (int a : arguments)
    if (a >= 0) used[static_cast<size_t>(a)] = true;
  for (int o : outputs)
    if (o != kUndefinedOutput) used[static_cast<size_t>(o)] = true;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (live[i])
      for (int v : nodes[i].inputs) used[static_cast<size_t>(v)] = true;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!live[i] || nodes[i].kind == NodeKind::Cond) continue;
    for (int v : nodes[i].defined_values()) used[static_cast<size_t>(v)] = true;
  }
  // A kept variable keeps its value at call start: the runners bind it.
  for (size_t v = 0; v < values.size(); ++v)
    if (used[v] && (values[v].kind == ValueKind::VariableInitial || values[v].kind == ValueKind::VariableUpdate))
      used[static_cast<size_t>(variables[static_cast<size_t>(values[v].index)].initial)] = true;
  Graph g;
  g.name = name;
  std::vector<int> value_map(values.size(), -1), node_map(nodes.size(), -1), constant_map(constants.size(), -1),
      variable_map(variables.size(), -1);
  for (size_t i = 0, n = 0; i < nodes.size(); ++i)
    if (live[i]) node_map[i] = static_cast<int>(n++);
  for (size_t v = 0; v < values.size(); ++v) {
    if (!used[v]) continue;
    GraphValue gv = values[v];
    if (gv.kind == ValueKind::Constant) {
      int& c = constant_map[static_cast<size_t>(gv.index)];
      if (c < 0) {
        c = static_cast<int>(g.constants.size());
        g.constants.push_back(constants[static_cast<size_t>(gv.index)]);
      }
      gv.index = c;
    } else if (gv.kind == ValueKind::VariableInitial || gv.kind == ValueKind::VariableUpdate) {
      int& k = variable_map[static_cast<size_t>(gv.index)];
      if (k < 0) {
        k = static_cast<int>(g.variables.size());
        g.variables.push_back(GraphVariable{variables[static_cast<size_t>(gv.index)].var, -1, -1});
      }
      gv.index = k;
    } else if (gv.kind == ValueKind::Result) {
      gv.index = node_map[static_cast<size_t>(gv.index)];
    }
    value_map[v] = static_cast<int>(g.values.size());
    g.values.push_back(gv);
  }
  auto remap = [&](int v) { return v == kUndefinedOutput ? v : value_map[static_cast<size_t>(v)]; };
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!live[i]) continue;
    GraphNode n = nodes[i];
    for (int& v : n.inputs) v = remap(v);
    for (GraphNode::Write& w : n.writes) {
      w.variable = variable_map[static_cast<size_t>(w.variable)];
      w.value = remap(w.value);
    }
    if (n.has_regions()) {
      std::vector<size_t> kept;  // a cond keeps the results something reads; a loop keeps all
      for (size_t r = 0; r < n.results.size(); ++r)
        if (used[static_cast<size_t>(n.results[r])]) kept.push_back(r);
      std::vector<int> results;
      for (size_t r : kept) results.push_back(remap(n.results[r]));
      for (std::shared_ptr<const Graph>& region : n.regions) {
        Graph rg = *region;
        if (n.kind == NodeKind::Cond) {
          rg.outputs.clear();
          for (size_t r : kept) rg.outputs.push_back(region->outputs[r]);
        }
        region = std::make_shared<const Graph>(rg.pruned());
      }
      n.results = std::move(results);
      n.output = n.results[0];
    } else {
      n.output = remap(n.output);
    }
    g.nodes.push_back(std::move(n));
  }
  for (size_t k = 0; k < variables.size(); ++k) {
    int nk = variable_map[k];
    if (nk < 0) continue;
    GraphVariable& gv = g.variables[static_cast<size_t>(nk)];
    gv.initial = variables[k].initial >= 0 ? remap(variables[k].initial) : -1;
    gv.current = variables[k].current >= 0 ? remap(variables[k].current) : -1;
  }
  for (int a : arguments) g.arguments.push_back(a >= 0 ? remap(a) : -1);
  for (int o : outputs) g.outputs.push_back(remap(o));
  return g;
}

namespace {
// `[16,?]`: a symbolic dim printed as `?`.
std::string dims_str(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (int i = 0; i < shape.rank(); ++i) {
    if (i) os << ",";
    if (is_symbolic_dim(shape.sym(i))) os << "?";
    else os << shape.sym(i);
  }
  os << "]";
  return os.str();
}
}  // namespace

std::string type_str(DType dtype, const Shape& shape) { return dtype_name(dtype) + dims_str(shape); }

std::string Graph::value_name(int id) const {
  if (id == kUndefinedOutput) return "<undefined>";
  const GraphValue& v = values[static_cast<size_t>(id)];
  std::ostringstream os;
  switch (v.kind) {
    case ValueKind::Argument: os << "%arg" << v.index; break;
    case ValueKind::Constant: os << "%c" << v.index; break;
    case ValueKind::VariableInitial: os << "%v" << v.index; break;
    case ValueKind::VariableUpdate: os << "%v" << v.index << "." << id; break;
    case ValueKind::Result: os << "%" << id; break;
  }
  return os.str();
}

namespace {
// Each named field (Note [Op attributes]): a true bool by its name, a false one not at all,
// the rest as name=value; a Shape as [2,?], rank 0 (a conv2d's unused input_shape) left out.
void print_attrs(std::ostream& os, const GraphNode& n) {
  std::vector<std::string> parts;
  for_each_field(n.attrs, [&](const char* name, const auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    std::ostringstream s;
    if constexpr (std::is_same_v<T, bool>) {
      if (value) parts.push_back(name);
      return;
    } else if constexpr (std::is_same_v<T, Shape>) {
      if (value.rank() == 0) return;
      s << name << "=" << dims_str(value);
    } else if constexpr (std::is_same_v<T, IntList>) {
      s << name << "=[";
      for (int i = 0; i < value.size(); ++i) s << (i ? "," : "") << value[i];
      s << "]";
    } else if constexpr (std::is_same_v<T, DType>) {
      s << name << "=" << dtype_name(value);
    } else {
      s << name << "=" << value;
    }
    parts.push_back(s.str());
  });
  if (parts.empty()) return;
  os << " {";
  for (size_t i = 0; i < parts.size(); ++i) os << (i ? ", " : "") << parts[i];
  os << "}";
}
}  // namespace

namespace {
void print_body(std::ostream& os, const Graph& g, int indent);

void print_region_node(std::ostream& os, const Graph& g, const GraphNode& n, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  os << pad;
  for (size_t r = 0; r < n.results.size(); ++r) os << (r ? ", " : "") << g.value_name(n.results[r]);
  os << " = " << n.name() << "(";
  for (size_t k = 0; k < n.inputs.size(); ++k) os << (k ? ", " : "") << g.value_name(n.inputs[k]);
  os << ")";
  if (n.kind == NodeKind::WhileLoop) os << " {loop_vars=" << n.loop_vars << "}";
  os << " :";
  for (size_t r = 0; r < n.results.size(); ++r) {
    const GraphValue& v = g.values[static_cast<size_t>(n.results[r])];
    os << (r ? ", " : " ") << type_str(v.dtype, v.shape);
  }
  os << " {\n";
  for (const auto& region : n.regions) {
    os << pad << "  " << region->name << "(";
    bool first = true;
    for (int id : region->arguments) {
      if (id < 0) continue;
      const GraphValue& v = region->values[static_cast<size_t>(id)];
      os << (first ? "" : ", ") << region->value_name(id) << ": " << type_str(v.dtype, v.shape);
      first = false;
    }
    os << ") {\n";
    print_body(os, *region, indent + 4);
    os << pad << "    yield";
    for (size_t i = 0; i < region->outputs.size(); ++i) os << (i ? ", " : " ") << region->value_name(region->outputs[i]);
    os << "\n" << pad << "  }\n";
  }
  os << pad << "}\n";
}

void print_body(std::ostream& os, const Graph& g, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  for (size_t i = 0; i < g.constants.size(); ++i)
    os << pad << "%c" << i << " = constant : " << type_str(g.constants[i].dtype(), g.constants[i].shape()) << "\n";
  for (size_t i = 0; i < g.variables.size(); ++i)
    os << pad << "%v" << i << " = variable '" << g.variables[i].var.name() << "' : "
       << type_str(g.variables[i].var.dtype(), g.variables[i].var.shape()) << "\n";
  const std::vector<bool> live = g.live_nodes();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = g.nodes[i];
    if (!live[i]) continue;  // dead code (e.g. a lifted variable initializer) never runs
    if (n.has_regions()) {
      print_region_node(os, g, n, indent);
      continue;
    }
    os << pad;
    if (n.writes.empty()) {
      os << g.value_name(n.output) << " = ";
    } else {
      for (size_t w = 0; w < n.writes.size(); ++w) os << (w ? ", " : "") << g.value_name(n.writes[w].value);
      os << " = ";
    }
    os << n.name() << "(";
    for (size_t k = 0; k < n.inputs.size(); ++k) os << (k ? ", " : "") << g.value_name(n.inputs[k]);
    os << ")";
    print_attrs(os, n);
    const GraphValue& out = g.values[static_cast<size_t>(n.output)];
    os << " : " << type_str(out.dtype, out.shape);
    if (!n.writes.empty()) os << "  // writes in place";
    os << "\n";
  }
}
}  // namespace

std::string Graph::str() const {
  std::ostringstream os;
  os << "kiln.func @" << name << "(";
  bool first = true;
  for (int id : arguments) {
    if (id < 0) continue;
    os << (first ? "" : ", ") << value_name(id) << ": " << type_str(values[id].dtype, values[id].shape);
    first = false;
  }
  os << ") {\n";
  print_body(os, *this, 2);
  os << "  return";
  for (size_t i = 0; i < outputs.size(); ++i) os << (i ? ", " : " ") << value_name(outputs[i]);
  os << "\n}\n";
  return os.str();
}

}  // namespace kiln::ir
