// TraceContext: records the ops of one kiln::function trace into a kiln::ir::Graph (the op
// interceptor), and decides about Variables created while it traces (the creation hook).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/core/dispatch.h"
#include "kiln/ir/graph.h"

namespace kiln::tracer {

/// What the regions of one control-flow node read from the enclosing graph (shared by both
/// branches of a cond, or a loop's cond and body): capture k is region argument offset + k.
struct RegionCaptures {
  std::vector<int> outer_values;     ///< value ids in the enclosing graph
  std::vector<Tensor> outer_tensors;  ///< the tensors read (for the tape: gradients flow to them)
  std::unordered_map<int, int> index_of;  ///< outer value id -> capture index
};

/// Installed on its thread for its lifetime: ops whose inputs it sees become graph nodes and
/// return symbolic tensors; eager tensors they read become constants and variables become
/// captured variables. On destruction (also by an exception) it uninstalls itself and clears the
/// trace's marks on the variables it touched. See Note [Variables in a trace] in trace_context.cc.
/// While a region is open (kiln::cond, kiln::while_loop: Note [Regions] in graph.cc), ops go
/// into the region's graph and what it reads from outside becomes a capture.
class TraceContext : public OpInterceptor, public VariableCreationHook {
 public:
  /// `first_trace`: whether Variables may be created (TF allows it on the first trace only).
  TraceContext(ir::Graph& graph, bool first_trace);
  ~TraceContext() override;
  TraceContext(const TraceContext&) = delete;
  TraceContext& operator=(const TraceContext&) = delete;

  /// A symbolic tensor for tensor argument `position` of the innermost graph being traced.
  Tensor add_argument(size_t position, DType dtype, const Shape& shape, const std::string& description = "");
  /// Records the innermost graph's results (an undefined Tensor stays undefined).
  void set_outputs(const std::vector<Tensor>& outputs);
  /// The value id of `t` in the innermost graph being traced (capturing it as needed).
  int value_of(const Tensor& t);

  /// Traces into `region` until the matching close_region(); `construct` names it in errors
  /// ("kiln::cond"), `capture_offset` is the region argument of capture 0.
  void open_region(ir::Graph& region, RegionCaptures& captures, int capture_offset, const std::string& construct);
  void close_region();
  /// Appends region node `node` (its results still empty) to the innermost graph, with results
  /// of `types`; returns their symbolic tensors.
  std::vector<Tensor> add_region_node(ir::GraphNode node, const std::vector<TensorMeta>& types);

  Tensor intercept(const OpDef& op, Inputs in, const OpAttrs& attrs, const TensorMeta& meta) override;
  Tensor initial_value(const Tensor& initial_value, const std::string& name) override;

  /// The trace running on this thread, or null.
  static TraceContext* active();

 private:
  // One graph being traced: the function's, then one per open region.
  struct Frame {
    ir::Graph* graph;
    uint64_t serial;                  // marks the symbolic tensors of this graph
    RegionCaptures* captures = nullptr;
    int capture_offset = 0;
    std::vector<int> capture_args;    // capture index -> this region's argument value (-1: none yet)
    std::string construct;
  };
  int value_at(const Tensor& t, size_t level);
  int capture(size_t level, int outer_value, const Tensor& t);
  int capture_variable(const Tensor& var);
  Tensor symbolic_result(int value, const std::string& description);
  void mark_variable(ir::GraphVariable& gv, int value);

  ir::Graph& graph_;
  bool first_trace_;
  uint64_t serial_;
  std::vector<Frame> frames_;              // frames_[0] is the function's graph
  std::vector<uint64_t> closed_regions_;   // serials of regions already closed (for errors)
  std::unordered_map<const TensorImpl*, int> constants_;  // captured eager tensor -> value id
  VariableMarks marks_;  // Note [Variables in a trace]: installed on this thread while tracing
  OpInterceptor* prev_interceptor_;
  VariableCreationHook* prev_hook_;
  VariableMarks* prev_marks_;
  TraceContext* prev_active_;
};

}  // namespace kiln::tracer
