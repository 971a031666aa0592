// kiln::Graph: the traced form of a kiln::function call (op-table nodes over typed values), the
// IR that the interpreter runs and that compiler/ will translate to MLIR.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/core/op_def.h"
#include "kiln/tensor.h"

namespace kiln::tracer {

/// Where a graph value comes from.
enum class ValueKind : uint8_t {
  Argument,         ///< a tensor argument of the function (graph input)
  Constant,         ///< an eager tensor the trace read (captured by reference; tensors are immutable)
  VariableInitial,  ///< a captured variable's value when the call starts
  VariableUpdate,   ///< a variable's value after an in-place node wrote it
  Result,           ///< the result of an ordinary node
};

struct GraphValue {
  ValueKind kind;
  DType dtype;
  Shape shape;    ///< as traced; a -1 input dim shows as its placeholder size (see Note [Relaxed dims])
  int index = 0;  ///< Argument: argument position; Constant: constants[i]; Variable*: variables[i];
                  ///< Result: producing node
};

/// One op call: a row of the op table with its attributes.
struct GraphNode {
  OpId op;
  OpAttrs attrs;
  std::vector<int> inputs;  ///< value ids
  int output = -1;          ///< value id (for an in-place op: the new value of its input 0)
  /// In-place ops: (input position, variable, value id of the variable after the write).
  struct Write { int position; int variable; int value; };
  std::vector<Write> writes;
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
  std::vector<int> arguments;    ///< value id per tensor argument position (-1: not a tensor)
  std::vector<Tensor> constants;
  std::vector<GraphVariable> variables;
  std::vector<int> outputs;      ///< value ids, or kUndefinedOutput

  int add_value(ValueKind kind, DType dtype, const Shape& shape, int index);
  /// Nodes that must run: those the outputs depend on and every variable write (side effects).
  std::vector<bool> live_nodes() const;
  /// The same graph without dead nodes (a lifted variable initializer) and the values,
  /// constants and variables only they used, renumbered: what runs, in a canonical form.
  Graph pruned() const;
  /// One op per line with attributes and types: `%7 = matmul(%0, %3) {transpose_b} : float32[?,20]`.
  std::string str() const;
  /// `%3`, `%arg0`, `%c1`, `%v2` or `%v2.1`: how str() names value `id`.
  std::string value_name(int id) const;
};

/// `float32[16,4]`, with a relaxed dim's placeholder printed as `?`.
std::string type_str(DType dtype, const Shape& shape);

}  // namespace kiln::tracer
