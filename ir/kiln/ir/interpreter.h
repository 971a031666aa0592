// GraphRunner: runs a traced kiln::ir::Graph by calling each node's eager kernel, until
// compiler/ gives kiln::function compiled code.
#pragma once
#include <memory>
#include <vector>

#include "kiln/ir/graph.h"

namespace kiln::ir {

/// Prepared once per graph (with the call's sizes: see instantiate() for -1 dims): which nodes
/// are live and when each value dies. Region nodes run their regions with runners of their own.
class GraphRunner {
 public:
  explicit GraphRunner(const Graph& graph);
  ~GraphRunner();
  /// Runs the graph on `arguments` (tensors by argument position; undefined for non-tensors),
  /// writing the captured variables in place.
  std::vector<Tensor> run(const std::vector<Tensor>& arguments) const;

 private:
  const Graph& graph_;
  std::vector<int> live_;            // indices of live nodes, in order
  std::vector<int> last_use_;        // per value: the live node that reads it last (-1: none)
  std::vector<bool> needed_;         // per value: read by a live node or an output
  std::vector<int> constant_value_;  // constant index -> value id
  std::vector<std::vector<std::unique_ptr<GraphRunner>>> regions_;  // per node: a runner per region

  std::vector<Tensor> run_region_node(const GraphNode& n, size_t index, std::vector<Tensor>& inputs) const;
};

/// Evaluates value `id` of a graph being traced, eagerly, for a Variable's initial value (TF's
/// init_scope): throws kiln::TraceError when it depends on an argument or a variable write.
Tensor evaluate_lifted(const Graph& graph, int id, const std::string& variable_name);

}  // namespace kiln::ir
