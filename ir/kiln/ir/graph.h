// kiln::Graph: the traced form of a kiln::function call (op-table nodes over typed values), the
// IR that the interpreter runs and that compiler/ will translate to MLIR.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/core/op_def.h"
#include "kiln/tensor.h"

namespace kiln::ir {

struct Graph;

/// Where a graph value comes from.
enum class ValueKind : uint8_t {
  Argument,         ///< a tensor argument of the function (graph input), or of a region
  Constant,         ///< an eager tensor the trace read (captured by reference; tensors are immutable)
  VariableInitial,  ///< a captured variable's value when the call starts
  VariableUpdate,   ///< a variable's value after an in-place node wrote it
  Result,           ///< a result of a node
};

struct GraphValue {
  ValueKind kind;
  DType dtype;
  Shape shape;    ///< as traced; -1 input dims are symbolic dims (Note [Symbolic dims] in shape.h)
  int index = 0;  ///< Argument: argument position; Constant: constants[i]; Variable*: variables[i];
                  ///< Result: producing node
};

/// What a node is: one op-table call, or a control-flow node with regions (kiln::cond,
/// kiln::while_loop; see Note [Regions] in graph.cc).
enum class NodeKind : uint8_t {
  Op,         ///< a row of the op table with its attributes
  Cond,       ///< inputs: pred, captures...; regions: then, else (arguments: the captures)
  WhileLoop,  ///< inputs: initial loop vars, captures...; regions: cond, body (arguments: loop
              ///< vars, then captures); results: the loop vars' final values
};

struct GraphNode {
  OpId op{};  ///< Op nodes
  OpAttrs attrs;
  std::vector<int> inputs;  ///< value ids
  int output = -1;          ///< value id (for an in-place op: the new value of its input 0;
                            ///< for a region node: results[0])
  /// In-place ops: (input position, variable, value id of the variable after the write).
  struct Write { int position; int variable; int value; };
  std::vector<Write> writes;
  NodeKind kind = NodeKind::Op;
  /// Region nodes: every result's value id, and the nested graphs (never modified once built:
  /// copies of a graph share them).
  std::vector<int> results = {};
  std::vector<std::shared_ptr<const Graph>> regions = {};
  int loop_vars = 0;  ///< WhileLoop: how many of the inputs (and region arguments) are loop vars

  bool has_regions() const { return kind != NodeKind::Op; }
  /// `matmul`, `cond` or `while_loop`.
  const char* name() const;
  /// The value ids the node defines: its result(s), or the variable versions it writes.
  std::vector<int> defined_values() const;
};

/// A captured variable: read at call start (initial) and possibly rewritten by nodes.
struct GraphVariable {
  Variable var;
  int initial = -1;  ///< value id of its value at call start
  int current = -1;  ///< value id of its latest version while tracing
};

/// Marks an output that is an undefined Tensor (e.g. a gradient that does not exist).
inline constexpr int kUndefinedOutput = -1;

struct Graph {
  std::string name;
  std::vector<GraphValue> values;
  std::vector<GraphNode> nodes;  ///< in trace (program) order
  std::vector<int> arguments;    ///< value id per tensor argument position (-1: not a tensor, or
                                 ///< a region argument the region does not read)
  std::vector<Tensor> constants;
  std::vector<GraphVariable> variables;
  std::vector<int> outputs;      ///< value ids, or kUndefinedOutput

  int add_value(ValueKind kind, DType dtype, const Shape& shape, int index);
  /// Nodes that must run: those the outputs depend on and every variable write (side effects).
  std::vector<bool> live_nodes() const;
  /// The same graph without dead nodes (a lifted variable initializer) and the values,
  /// constants and variables only they used, renumbered: what runs, in a canonical form.
  /// Regions are pruned too, and a cond's results that nothing reads are dropped.
  Graph pruned() const;
  /// One op per line with attributes and types: `%7 = matmul(%0, %3) {transpose_b} : float32[?,20]`;
  /// a region node's regions follow it, indented.
  std::string str() const;
  /// `%3`, `%arg0`, `%c1`, `%v2` or `%v2.1`: how str() names value `id`.
  std::string value_name(int id) const;
};

/// `float32[16,4]`, with a symbolic dim printed as `?`.
std::string type_str(DType dtype, const Shape& shape);

}  // namespace kiln::ir
