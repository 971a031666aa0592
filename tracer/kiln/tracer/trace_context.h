// TraceContext: records the ops of one kiln::function trace into a kiln::tracer::Graph (the op
// interceptor), and decides about Variables created while it traces (the creation hook).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/core/dispatch.h"
#include "kiln/tracer/graph.h"

namespace kiln::tracer {

/// Installed on its thread for its lifetime: ops whose inputs it sees become graph nodes and
/// return symbolic tensors; eager tensors they read become constants and variables become
/// captured variables. On destruction (also by an exception) it uninstalls itself and clears the
/// trace's marks on the variables it touched. See Note [Variables in a trace] in trace_context.cc.
class TraceContext : public OpInterceptor, public VariableCreationHook {
 public:
  /// `first_trace`: whether Variables may be created (TF allows it on the first trace only).
  TraceContext(Graph& graph, bool first_trace);
  ~TraceContext() override;
  TraceContext(const TraceContext&) = delete;
  TraceContext& operator=(const TraceContext&) = delete;

  /// A symbolic placeholder for tensor argument `position`.
  Tensor add_argument(size_t position, DType dtype, const Shape& shape);
  /// Records the function's results (an undefined Tensor stays undefined).
  void set_outputs(const std::vector<Tensor>& outputs);

  Tensor intercept(const OpDef& op, Inputs in, const OpAttrs& attrs, const TensorMeta& meta) override;
  Tensor initial_value(const Tensor& initial_value, const std::string& name) override;

  /// The trace running on this thread, or null.
  static TraceContext* active();

 private:
  int value_of(const Tensor& t);
  int capture_variable(const Tensor& var);
  Tensor symbolic_result(int value, const std::string& description);
  void mark_variable(GraphVariable& gv, int value);

  Graph& graph_;
  bool first_trace_;
  uint64_t serial_;
  std::unordered_map<const TensorImpl*, int> constants_;  // captured eager tensor -> value id
  OpInterceptor* prev_interceptor_;
  VariableCreationHook* prev_hook_;
  TraceContext* prev_active_;
};

}  // namespace kiln::tracer
