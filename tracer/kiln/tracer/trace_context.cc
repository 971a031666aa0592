// TraceContext: symbolic tensors, captures, variable versions, and Variable creation in a trace.
#include "kiln/tracer/trace_context.h"

#include <atomic>

#include "kiln/tracer/interpreter.h"

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

bool is_assign_family(OpId id) { return id == OpId::Assign || id == OpId::AssignAdd || id == OpId::AssignSub; }
}  // namespace

TraceContext::TraceContext(Graph& graph, bool first_trace)
    : graph_(graph), first_trace_(first_trace), serial_(g_trace_serial.fetch_add(1)) {
  prev_interceptor_ = set_op_interceptor(this);
  prev_hook_ = set_variable_creation_hook(this);
  prev_active_ = t_active;
  t_active = this;
}

TraceContext::~TraceContext() {
  set_op_interceptor(prev_interceptor_);
  set_variable_creation_hook(prev_hook_);
  t_active = prev_active_;
  for (GraphVariable& gv : graph_.variables) gv.var.impl().symbolic = nullptr;
}

TraceContext* TraceContext::active() { return t_active; }

Tensor TraceContext::symbolic_result(int value, const std::string& description) {
  const GraphValue& v = graph_.values[static_cast<size_t>(value)];
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = v.shape;
  impl->dtype = v.dtype;
  impl->device = Device::cpu();
  impl->id = next_tensor_id();
  impl->symbolic = std::make_shared<TracedValue>(serial_, value, description);
  return Tensor(std::move(impl));
}

Tensor TraceContext::add_argument(size_t position, DType dtype, const Shape& shape) {
  if (graph_.arguments.size() <= position) graph_.arguments.resize(position + 1, -1);
  int id = graph_.add_value(ValueKind::Argument, dtype, shape, static_cast<int>(position));
  graph_.arguments[position] = id;
  return symbolic_result(id, "argument " + std::to_string(position) + " (" + type_str(dtype, shape) + ")");
}

// Note [Variables in a trace]
// A variable the trace reads gets a SymbolicValue naming its current graph value: first its value
// at call start, then the result of each in-place op that writes it. The tape's snapshot of a
// variable copies that pointer, so a gradient rule sees the version the op read, as eager's
// copy-on-write snapshots do. The mark also makes reading the variable's host value a TraceError
// (the storage holds the value from before the call). The interpreter keeps the same versions
// with handles that share the variable's storage, so eager's copy-on-write keeps old versions.
void TraceContext::mark_variable(GraphVariable& gv, int value) {
  gv.current = value;
  gv.var.impl().symbolic = std::make_shared<TracedValue>(
      serial_, value, "variable '" + gv.var.name() + "' (" + type_str(gv.var.dtype(), gv.var.shape()) + ")");
}

int TraceContext::capture_variable(const Tensor& var) {
  int index = static_cast<int>(graph_.variables.size());
  graph_.variables.push_back(GraphVariable{static_cast<const Variable&>(var), -1, -1});
  GraphVariable& gv = graph_.variables.back();
  gv.initial = graph_.add_value(ValueKind::VariableInitial, var.dtype(), var.shape(), index);
  mark_variable(gv, gv.initial);
  return gv.initial;
}

int TraceContext::value_of(const Tensor& t) {
  const TensorImpl& impl = t.impl();
  if (impl.symbolic != nullptr) {
    auto* tv = dynamic_cast<const TracedValue*>(impl.symbolic.get());
    if (tv == nullptr || tv->serial != serial_)
      throw TraceError("kiln::function: " + impl.symbolic->describe() +
                       " comes from another trace (a symbolic tensor kept from an earlier call); return "
                       "values from the function instead of storing them");
    return tv->value;
  }
  if (impl.is_variable) return capture_variable(t);
  KILN_ASSERT(impl.storage != nullptr, "a tensor without storage carries a SymbolicValue");
  auto [it, inserted] = constants_.try_emplace(&impl, 0);
  if (inserted) {
    int index = static_cast<int>(graph_.constants.size());
    graph_.constants.push_back(t);  // keeps `impl` alive, so the map's key stays unique
    it->second = graph_.add_value(ValueKind::Constant, t.dtype(), t.shape(), index);
  }
  return it->second;
}

Tensor TraceContext::intercept(const OpDef& op, Inputs in, const OpAttrs& attrs, const TensorMeta& meta) {
  GraphNode node;
  node.op = op.id;
  node.attrs = attrs;
  node.inputs.reserve(in.size());
  for (const Tensor& t : in) node.inputs.push_back(value_of(t));
  if (!op.in_place()) {
    node.output = graph_.add_value(ValueKind::Result, meta.dtype, meta.shape, static_cast<int>(graph_.nodes.size()));
    graph_.nodes.push_back(node);
    return symbolic_result(node.output, std::string("`") + op.name + "`'s result (" + type_str(meta.dtype, meta.shape) + ")");
  }
  // In place: input 0 for the assign family, every Variable input otherwise (apply_adam's slots).
  for (size_t p = 0; p < in.size(); ++p) {
    if (p > 0 && is_assign_family(op.id)) break;
    if (!in[p].is_variable()) continue;
    int var = -1;
    for (size_t k = 0; k < graph_.variables.size(); ++k)
      if (graph_.variables[k].var.is_same(in[p])) var = static_cast<int>(k);
    KILN_ASSERT(var >= 0, "value_of captured the written variable");
    KILN_ASSERT(graph_.variables[static_cast<size_t>(var)].current == node.inputs[p],
                "an in-place op writes a variable's current version");
    int v = graph_.add_value(ValueKind::VariableUpdate, in[p].dtype(), in[p].shape(), var);
    node.writes.push_back(GraphNode::Write{static_cast<int>(p), var, v});
  }
  KILN_CHECK(!node.writes.empty() && node.writes[0].position == 0, op.name,
             ": input 0 must be a Variable (it is written in place)");
  node.output = node.writes[0].value;
  graph_.nodes.push_back(node);
  for (const GraphNode::Write& w : node.writes) mark_variable(graph_.variables[static_cast<size_t>(w.variable)], w.value);
  return in[0];
}

void TraceContext::set_outputs(const std::vector<Tensor>& outputs) {
  graph_.outputs.clear();
  for (const Tensor& t : outputs) graph_.outputs.push_back(t.defined() ? value_of(t) : kUndefinedOutput);
}

Tensor TraceContext::initial_value(const Tensor& initial_value, const std::string& name) {
  KILN_CHECK(first_trace_, "kiln::function '", graph_.name, "': tried to create variable '", name,
             "' on a trace other than the first (as TF: tf.function-decorated function tried to create "
             "variables on non-first call); create variables outside the function, or only on its first call");
  if (initial_value.impl().symbolic == nullptr) return initial_value;
  int id = value_of(initial_value);
  // Ops run eagerly while the value is computed (TF's init_scope).
  OpInterceptor* self = set_op_interceptor(nullptr);
  VariableCreationHook* hook = set_variable_creation_hook(nullptr);
  try {
    Tensor value = evaluate_lifted(graph_, id, name);
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
