// GraphRunner: liveness and the node-by-node run on the eager kernels.
#include "kiln/ir/interpreter.h"

#include <climits>

#include "kiln/core/dispatch.h"
#include "kiln/ops.h"

namespace kiln::ir {

GraphRunner::GraphRunner(const Graph& graph) : graph_(graph) {
  const std::vector<bool> live = graph.live_nodes();
  last_use_.assign(graph.values.size(), -1);
  needed_.assign(graph.values.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!live[i]) continue;
    live_.push_back(static_cast<int>(i));
    for (int v : graph.nodes[i].inputs) {
      last_use_[static_cast<size_t>(v)] = static_cast<int>(i);
      needed_[static_cast<size_t>(v)] = true;
    }
  }
  for (int o : graph.outputs)
    if (o != kUndefinedOutput) {
      last_use_[static_cast<size_t>(o)] = INT_MAX;  // handed to the caller
      needed_[static_cast<size_t>(o)] = true;
    }
  regions_.resize(graph.nodes.size());
  for (int i : live_)
    for (const auto& region : graph.nodes[static_cast<size_t>(i)].regions)
      regions_[static_cast<size_t>(i)].push_back(std::make_unique<GraphRunner>(*region));
  constant_value_.assign(graph.constants.size(), -1);
  for (size_t v = 0; v < graph.values.size(); ++v)
    if (graph.values[v].kind == ValueKind::Constant) constant_value_[static_cast<size_t>(graph.values[v].index)] = static_cast<int>(v);
}

GraphRunner::~GraphRunner() = default;

// A cond runs the region its pred picks; a loop runs body while cond says so (Note [Regions]).
std::vector<Tensor> GraphRunner::run_region_node(const GraphNode& n, size_t index, std::vector<Tensor>& inputs) const {
  const std::vector<std::unique_ptr<GraphRunner>>& regions = regions_[index];
  if (n.kind == NodeKind::Cond) {
    const bool taken = inputs[0].item<bool>();
    return regions[taken ? 0 : 1]->run(std::vector<Tensor>(inputs.begin() + 1, inputs.end()));
  }
  const size_t vars = static_cast<size_t>(n.loop_vars);
  for (;;) {
    if (!regions[0]->run(inputs)[0].item<bool>()) return std::vector<Tensor>(inputs.begin(), inputs.begin() + vars);
    std::vector<Tensor> next = regions[1]->run(inputs);
    std::move(next.begin(), next.end(), inputs.begin());
  }
}

std::vector<Tensor> GraphRunner::run(const std::vector<Tensor>& arguments) const {
  std::vector<Tensor> vals(graph_.values.size());
  for (size_t k = 0; k < graph_.arguments.size() && k < arguments.size(); ++k)
    if (graph_.arguments[k] >= 0 && needed_[static_cast<size_t>(graph_.arguments[k])])
      vals[static_cast<size_t>(graph_.arguments[k])] = arguments[k];
  for (size_t c = 0; c < graph_.constants.size(); ++c)
    if (needed_[static_cast<size_t>(constant_value_[c])])
      vals[static_cast<size_t>(constant_value_[c])] = graph_.constants[c];
  for (const GraphVariable& gv : graph_.variables)
    if (needed_[static_cast<size_t>(gv.initial)]) vals[static_cast<size_t>(gv.initial)] = alias_of(gv.var);

  std::vector<Tensor> inputs;
  for (int i : live_) {
    const GraphNode& n = graph_.nodes[static_cast<size_t>(i)];
    inputs.assign(n.inputs.size(), Tensor());
    for (size_t p = 0; p < n.inputs.size(); ++p) inputs[p] = vals[static_cast<size_t>(n.inputs[p])];
    for (const GraphNode::Write& w : n.writes)
      inputs[static_cast<size_t>(w.position)] = graph_.variables[static_cast<size_t>(w.variable)].var;
    // Values die at their last use, before the kernel runs: a variable's old version must not
    // share its storage when it is written (that would make the write copy).
    for (int v : n.inputs)
      if (last_use_[static_cast<size_t>(v)] == i) vals[static_cast<size_t>(v)] = Tensor();
    if (n.has_regions()) {
      std::vector<Tensor> results = run_region_node(n, static_cast<size_t>(i), inputs);
      for (size_t r = 0; r < results.size(); ++r)
        if (needed_[static_cast<size_t>(n.results[r])]) vals[static_cast<size_t>(n.results[r])] = std::move(results[r]);
      inputs.clear();
      continue;
    }
    Tensor out;
    if (n.attrs.generator() != nullptr) {  // a random op: new numbers on every run
      OpAttrs attrs = n.attrs;
      draw_seed(attrs);
      out = call_op(n.op, inputs, attrs);
    } else {
      out = call_op(n.op, inputs, n.attrs);
    }
    inputs.clear();
    if (n.writes.empty()) {
      if (needed_[static_cast<size_t>(n.output)]) vals[static_cast<size_t>(n.output)] = std::move(out);
    } else {
      for (const GraphNode::Write& w : n.writes)
        if (needed_[static_cast<size_t>(w.value)])
          vals[static_cast<size_t>(w.value)] = alias_of(graph_.variables[static_cast<size_t>(w.variable)].var);
    }
  }
  std::vector<Tensor> outputs;
  outputs.reserve(graph_.outputs.size());
  for (int o : graph_.outputs) outputs.push_back(o == kUndefinedOutput ? Tensor() : vals[static_cast<size_t>(o)]);
  return outputs;
}

Tensor evaluate_lifted(const Graph& graph, int id, const std::string& variable_name) {
  std::vector<bool> needed(graph.values.size(), false), run(graph.nodes.size(), false);
  needed[static_cast<size_t>(id)] = true;
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const GraphNode& n = graph.nodes[i];
    bool any = needed[static_cast<size_t>(n.output)];
    for (int r : n.results) any |= needed[static_cast<size_t>(r)];
    if (!any) continue;
    if (n.has_regions())
      throw TraceError("Variable '" + variable_name + "': its initial value depends on a kiln::" + n.name() +
                       "; create the variable outside the function, or from values computed before it");
    run[i] = true;
    for (int v : n.inputs) needed[static_cast<size_t>(v)] = true;
  }
  std::vector<Tensor> vals(graph.values.size());
  for (size_t v = 0; v < graph.values.size(); ++v) {
    if (!needed[v]) continue;
    const GraphValue& gv = graph.values[v];
    if (gv.kind == ValueKind::Argument)
      throw TraceError("Variable '" + variable_name + "': its initial value depends on argument " +
                       std::to_string(gv.index) + " of the kiln::function; a variable's initial value must not "
                       "depend on the function's inputs (create it outside, or from constants and shapes)");
    if (gv.kind == ValueKind::VariableUpdate)
      throw TraceError("Variable '" + variable_name + "': its initial value depends on a variable written "
                       "earlier in the same kiln::function trace; create the variable outside the function");
    if (gv.kind == ValueKind::Constant) vals[v] = graph.constants[static_cast<size_t>(gv.index)];
    if (gv.kind == ValueKind::VariableInitial) vals[v] = alias_of(graph.variables[static_cast<size_t>(gv.index)].var);
  }
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!run[i]) continue;
    const GraphNode& n = graph.nodes[i];
    inputs.clear();
    for (int v : n.inputs) inputs.push_back(vals[static_cast<size_t>(v)]);
    vals[static_cast<size_t>(n.output)] = call_op(n.op, inputs, n.attrs);
  }
  return vals[static_cast<size_t>(id)];
}

}  // namespace kiln::ir
