// TraceContext: symbolic tensors, captures, variable versions, and Variable creation in a trace.
#include "kiln/tracer/trace_context.h"

#include <algorithm>
#include <atomic>

#include "kiln/ir/interpreter.h"

namespace kiln::tracer {

namespace {
thread_local TraceContext* t_active = nullptr;
std::atomic<uint64_t> g_trace_serial{1};

/// A value of the graph being traced, attached to a symbolic tensor or a touched variable.
struct TracedValue final : SymbolicValue {
  TracedValue(uint64_t s, int v, std::string d) : serial(s), value(v), description(std::move(d)) {}
  std::string describe() const override { return description; }
  uint64_t serial;
  int value;
  std::string description;
};
}  // namespace

TraceContext::TraceContext(ir::Graph& graph, bool first_trace)
    : graph_(graph), first_trace_(first_trace), serial_(g_trace_serial.fetch_add(1)) {
  frames_.push_back(Frame{&graph, serial_, nullptr, 0, {}, "kiln::function"});
  prev_interceptor_ = set_op_interceptor(this);
  prev_hook_ = set_variable_creation_hook(this);
  prev_marks_ = set_variable_marks(&marks_);
  prev_active_ = t_active;
  t_active = this;
}

TraceContext::~TraceContext() {
  set_op_interceptor(prev_interceptor_);
  set_variable_creation_hook(prev_hook_);
  set_variable_marks(prev_marks_);
  t_active = prev_active_;
}

TraceContext* TraceContext::active() { return t_active; }

Tensor TraceContext::symbolic_result(int value, const std::string& description) {
  const Frame& f = frames_.back();
  const ir::GraphValue& v = f.graph->values[static_cast<size_t>(value)];
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = v.shape;
  impl->dtype = v.dtype;
  impl->device = Device::cpu();
  impl->id = next_tensor_id();
  impl->symbolic = std::make_shared<TracedValue>(f.serial, value, description);
  return Tensor(std::move(impl));
}

Tensor TraceContext::add_argument(size_t position, DType dtype, const Shape& shape, const std::string& description) {
  ir::Graph& g = *frames_.back().graph;
  if (g.arguments.size() <= position) g.arguments.resize(position + 1, -1);
  int id = g.add_value(ir::ValueKind::Argument, dtype, shape, static_cast<int>(position));
  g.arguments[position] = id;
  return symbolic_result(id, description.empty() ? "argument " + std::to_string(position) + " (" + ir::type_str(dtype, shape) + ")"
                                                 : description);
}

// Note [Variables in a trace]
// A variable the trace reads gets a SymbolicValue naming its current graph value: first its value
// at call start, then the result of each in-place op that writes it. The tape's snapshot of a
// variable copies that pointer, so a gradient rule sees the version the op read, as eager's
// copy-on-write snapshots do. The mark also makes reading the variable's host value a TraceError
// (the storage holds the value from before the call). The interpreter keeps the same versions
// with handles that share the variable's storage, so eager's copy-on-write keeps old versions.
// The marks are the tracing thread's (VariableMarks, installed for the trace's lifetime), not
// written into the variable's TensorImpl, which every thread shares: another thread may run a
// kiln::function or eager ops that read the variable while this one traces (Note [Threads] in
// function.cc), and a trace of another function on another thread marks it for itself.
void TraceContext::mark_variable(ir::GraphVariable& gv, int value) {
  gv.current = value;
  marks_[&gv.var.impl()] = std::make_shared<TracedValue>(
      serial_, value, "variable '" + gv.var.name() + "' (" + ir::type_str(gv.var.dtype(), gv.var.shape()) + ")");
}

int TraceContext::capture_variable(const Tensor& var) {
  int index = static_cast<int>(graph_.variables.size());
  graph_.variables.push_back(ir::GraphVariable{static_cast<const Variable&>(var), -1, -1});
  ir::GraphVariable& gv = graph_.variables.back();
  gv.initial = graph_.add_value(ir::ValueKind::VariableInitial, var.dtype(), var.shape(), index);
  mark_variable(gv, gv.initial);
  return gv.initial;
}

int TraceContext::value_of(const Tensor& t) { return value_at(t, frames_.size() - 1); }

// Note [Captures]
// A region reads an outer tensor through a region argument: value_at resolves the tensor in the
// enclosing frame first (recursively, so a cond inside a loop body captures into both), then
// gives the region an argument for it, once per outer value. Variables and eager tensors are
// resolved at the top level (a captured variable's current version, a constant) and passed down
// the same way, so region graphs stay closed (Note [Regions] in graph.cc).
int TraceContext::value_at(const Tensor& t, size_t level) {
  const TensorImpl& impl = t.impl();
  if (const std::shared_ptr<SymbolicValue> symbolic = symbolic_value(t); symbolic != nullptr) {
    auto* tv = dynamic_cast<const TracedValue*>(symbolic.get());
    if (tv != nullptr && tv->serial == frames_[level].serial) return tv->value;
    if (tv != nullptr) {
      for (size_t j = 0; j < level; ++j)
        if (frames_[j].serial == tv->serial) return capture(level, value_at(t, level - 1), t);
      if (std::find(closed_regions_.begin(), closed_regions_.end(), tv->serial) != closed_regions_.end())
        throw TraceError("kiln::function: " + symbolic->describe() +
                         " was computed inside a kiln::cond branch or kiln::while_loop body and is used outside "
                         "it; return it from the branch (or body) instead");
    }
    throw TraceError("kiln::function: " + symbolic->describe() +
                     " comes from another trace (a symbolic tensor kept from an earlier call); return "
                     "values from the function instead of storing them");
  }
  if (level > 0) return capture(level, value_at(t, level - 1), t);
  if (impl.is_variable) return capture_variable(t);
  KILN_ASSERT(impl.storage != nullptr, "a tensor without storage carries a SymbolicValue");
  auto [it, inserted] = constants_.try_emplace(&impl, 0);
  if (inserted) {
    int index = static_cast<int>(graph_.constants.size());
    graph_.constants.push_back(t);  // keeps `impl` alive, so the map's key stays unique
    it->second = graph_.add_value(ir::ValueKind::Constant, t.dtype(), t.shape(), index);
  }
  return it->second;
}

int TraceContext::capture(size_t level, int outer_value, const Tensor& t) {
  Frame& f = frames_[level];
  RegionCaptures& caps = *f.captures;
  auto [it, inserted] = caps.index_of.try_emplace(outer_value, static_cast<int>(caps.outer_values.size()));
  if (inserted) {
    caps.outer_values.push_back(outer_value);
    caps.outer_tensors.push_back(t);
  }
  const size_t k = static_cast<size_t>(it->second);
  if (f.capture_args.size() <= k) f.capture_args.resize(k + 1, -1);
  if (f.capture_args[k] < 0) {
    const ir::GraphValue outer = frames_[level - 1].graph->values[static_cast<size_t>(outer_value)];
    const size_t position = static_cast<size_t>(f.capture_offset) + k;
    ir::Graph& g = *f.graph;
    if (g.arguments.size() <= position) g.arguments.resize(position + 1, -1);
    f.capture_args[k] = g.add_value(ir::ValueKind::Argument, outer.dtype, outer.shape, static_cast<int>(position));
    g.arguments[position] = f.capture_args[k];
  }
  return f.capture_args[k];
}

void TraceContext::open_region(ir::Graph& region, RegionCaptures& captures, int capture_offset, const std::string& construct) {
  frames_.push_back(Frame{&region, g_trace_serial.fetch_add(1), &captures, capture_offset, {}, construct});
}

void TraceContext::close_region() {
  KILN_ASSERT(frames_.size() > 1, "close_region matches an open_region");
  closed_regions_.push_back(frames_.back().serial);
  frames_.pop_back();
}

std::vector<Tensor> TraceContext::add_region_node(ir::GraphNode node, const std::vector<TensorMeta>& types) {
  ir::Graph& g = *frames_.back().graph;
  const int index = static_cast<int>(g.nodes.size());
  for (const TensorMeta& t : types) node.results.push_back(g.add_value(ir::ValueKind::Result, t.dtype, t.shape, index));
  KILN_ASSERT(!node.results.empty(), "a region node has a result");
  node.output = node.results[0];
  std::vector<Tensor> out;
  for (size_t r = 0; r < types.size(); ++r)
    out.push_back(symbolic_result(node.results[r], std::string("`") + node.name() + "`'s result " + std::to_string(r) +
                                                       " (" + ir::type_str(types[r].dtype, types[r].shape) + ")"));
  g.nodes.push_back(std::move(node));
  return out;
}

Tensor TraceContext::intercept(const OpDef& op, Inputs in, const OpAttrs& attrs, const TensorMeta& meta) {
  Frame& f = frames_.back();
  if (op.in_place() && frames_.size() > 1) {
    std::string var = in.empty() || !in[0].is_variable() ? "a variable" : "variable '" + in[0].impl().name + "'";
    throw Error(f.construct + ": `" + std::string(op.name) + "` writes " + var + " inside a " +
                (f.construct == "kiln::cond" ? "branch" : "loop") +
                "; regions cannot assign variables. Compute the new value in the " +
                (f.construct == "kiln::cond" ? "branches, return it from the cond" : "loop, return it from the loop") +
                ", and assign it afterwards");
  }
  ir::Graph& g = *f.graph;
  ir::GraphNode node;
  node.op = op.id;
  node.attrs = attrs;
  node.inputs.reserve(in.size());
  for (const Tensor& t : in) node.inputs.push_back(value_of(t));
  if (!op.in_place()) {
    node.output = g.add_value(ir::ValueKind::Result, meta.dtype, meta.shape, static_cast<int>(g.nodes.size()));
    g.nodes.push_back(node);
    return symbolic_result(node.output, std::string("`") + op.name + "`'s result (" + ir::type_str(meta.dtype, meta.shape) + ")");
  }
  // In place: the row's written inputs (op_table.def's effects: apply_adam's var, m and v).
  for (size_t p = 0; p < static_cast<size_t>(op.written_inputs); ++p) {
    KILN_ASSERT(in[p].is_variable(), "an in-place op writes Variables");
    int var = -1;
    for (size_t k = 0; k < graph_.variables.size(); ++k)
      if (graph_.variables[k].var.is_same(in[p])) var = static_cast<int>(k);
    KILN_ASSERT(var >= 0, "value_of captured the written variable");
    KILN_ASSERT(graph_.variables[static_cast<size_t>(var)].current == node.inputs[p],
                "an in-place op writes a variable's current version");
    int v = graph_.add_value(ir::ValueKind::VariableUpdate, in[p].dtype(), in[p].shape(), var);
    node.writes.push_back(ir::GraphNode::Write{static_cast<int>(p), var, v});
  }
  node.output = node.writes[0].value;
  graph_.nodes.push_back(node);
  for (const ir::GraphNode::Write& w : node.writes) mark_variable(graph_.variables[static_cast<size_t>(w.variable)], w.value);
  return in[0];
}

void TraceContext::set_outputs(const std::vector<Tensor>& outputs) {
  std::vector<int> ids;
  for (const Tensor& t : outputs) ids.push_back(t.defined() ? value_of(t) : ir::kUndefinedOutput);
  frames_.back().graph->outputs = std::move(ids);
}

Tensor TraceContext::initial_value(const Tensor& initial_value, const std::string& name) {
  KILN_CHECK(frames_.size() == 1, frames_.back().construct, ": tried to create variable '", name,
             "' inside a region; create variables before the ", frames_.back().construct,
             " (e.g. give the layer its input_dim, or call it once outside)");
  KILN_CHECK(first_trace_, "kiln::function '", graph_.name, "': tried to create variable '", name,
             "' on a trace other than the first (as TF: tf.function-decorated function tried to create "
             "variables on non-first call); create variables outside the function, or only on its first call");
  if (symbolic_value(initial_value) == nullptr) return initial_value;
  int id = value_of(initial_value);
  // Ops run eagerly while the value is computed (TF's init_scope).
  OpInterceptor* self = set_op_interceptor(nullptr);
  VariableCreationHook* hook = set_variable_creation_hook(nullptr);
  try {
    Tensor value = ir::evaluate_lifted(graph_, id, name);
    set_op_interceptor(self);
    set_variable_creation_hook(hook);
    return value;
  } catch (...) {
    set_op_interceptor(self);
    set_variable_creation_hook(hook);
    throw;
  }
}

}  // namespace kiln::tracer
