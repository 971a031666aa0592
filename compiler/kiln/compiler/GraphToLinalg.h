// GraphToLinalg: the text emitter that turns a kiln::ir::Graph into one MLIR func.func on
// tensors (linalg, tensor, arith, math), and the per-op lowering table it dispatches through.
// Internal to compiler/; no MLIR headers (the module is text, parsed in LinalgToLLVM.cc).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/core/op_def.h"
#include "kiln/ir/graph.h"

namespace kiln::compiler {

// ---- What the compiled function's caller must know (built with the text) ----------------------

/// One argument of the compiled function (a memref after bufferization), in order.
struct FunctionArg {
  enum Kind { Argument, Constant, Variable, HostNode, Output, Status } kind;
  int index;  ///< argument position, constant, variable, node, output or check index
  DType dtype;
  Shape shape;
};

/// How run() produces output k.
struct OutputPlan {
  enum Kind { Undefined, Buffer, ArgumentTensor, ConstantTensor, VariableAlias } kind = Undefined;
  int index = -1;  ///< Buffer: FunctionArg index; Argument/Constant/Variable: its index in the graph
};

/// A runtime check the compiled code reports through a status buffer {first bad position, value}.
struct RuntimeCheck {
  enum Kind { IndexRange, LabelRange, DivisionByZero } kind;
  std::string op;     ///< op name, for the message
  int64_t limit = 0;  ///< valid range [0, limit)
  int node = -1;      ///< graph node, to report the first failing one in program order
};

struct LinalgModule {
  std::string text;                  ///< the "traced" stage
  std::string function_name;         ///< the func.func symbol
  std::vector<FunctionArg> args;
  std::vector<OutputPlan> outputs;
  std::vector<RuntimeCheck> checks;  ///< check k writes the FunctionArg of kind Status, index k
  std::vector<int> written_variables;
  /// Whether some dim is `?` (Note [Dynamic dims]): the args' shapes hold symbolic dims.
  bool dynamic = false;
};

/// Lowers every live node of `graph` (static shapes, or a template's -1 dims as `?`: Note
/// [Dynamic dims]). Throws kiln::Error naming the op when one
/// has no lowering or the case is unsupported.
LinalgModule lower_graph(const ir::Graph& graph);

// ---- The emitter the per-op lowerings use ----------------------------------------------------

/// A tensor value of the function being emitted.
/// Whether an Operand::scalar is an SSA value computed at function entry (`%n3`) rather than a
/// literal.
inline bool is_entry_scalar(const std::string& scalar) { return !scalar.empty() && scalar[0] == '%'; }

struct Operand {
  std::string ssa;     ///< `%v3`; empty for an inlined scalar constant until tensor() is asked for
  DType dtype;
  Shape shape;
  std::string scalar;  ///< for a splat (a one-element constant, a fill, shape ops of those): its
                       ///< MLIR literal, inlined into the loop bodies that read it; or, for a
                       ///< scalar computed at function entry from a -1 size (`%n3`, Note
                       ///< [Dynamic dims]), its SSA name, read the same way but never folded
  double value = 0;    ///< the splat's value (already converted to dtype)
  bool is_splat() const { return ssa.empty() && !scalar.empty() && !is_entry_scalar(scalar); }
};

/// `value` converted to `dtype` as a C++ static_cast would, back in a double.
double converted(double value, DType dtype);

/// `f32`, `f64`, `i32`, `i64`, `i1`.
const char* elem_type(DType dtype);
/// `tensor<4x3xf32>`, `tensor<f32>`; a symbolic dim (Note [Dynamic dims]) is `?`: `tensor<?x4xf32>`.
std::string tensor_type(DType dtype, const Shape& shape);
/// The MLIR literal of `value` converted to `dtype` as a C++ static_cast would (floats as exact
/// hex bit patterns).
std::string literal(double value, DType dtype);
/// Same for an already-typed float value.
std::string literal_f32(float value);
std::string literal_f64(double value);
/// `affine_map<(d0, d1) -> (exprs...)>` over `rank` dims.
std::string affine_map(int rank, const std::vector<std::string>& exprs);
/// The map reading `in` broadcast (numpy rules) against an iteration space of shape `out`.
std::string broadcast_map(const Shape& in, const Shape& out);
/// The identity map of rank `rank`.
std::string identity_map(int rank);

class LinalgEmitter;

/// The region of a linalg.generic being emitted: block arguments (ins then outs) and a helper
/// to add one op per line.
class Body {
 public:
  Body(LinalgEmitter& e, std::vector<std::string> args) : e_(e), args_(std::move(args)) {}
  const std::string& arg(size_t i) const { return args_[i]; }
  /// Emits `%t = <op>` and returns `%t`.
  std::string op(const std::string& text);
  /// A scalar constant.
  std::string constant(const std::string& lit, DType dtype);
  std::string index(int dim);  ///< linalg.index
  // Scalar arithmetic on `dtype` values (signed integers; floats IEEE without fast-math).
  std::string add(const std::string& a, const std::string& b, DType t);
  std::string sub(const std::string& a, const std::string& b, DType t);
  std::string mul(const std::string& a, const std::string& b, DType t);
  std::string div(const std::string& a, const std::string& b, DType t);
  /// a > b (or a < b with `less`), ordered for floats: false when either is NaN.
  std::string greater(const std::string& a, const std::string& b, DType t);
  std::string less(const std::string& a, const std::string& b, DType t);
  std::string select(const std::string& c, const std::string& a, const std::string& b, DType t);
  std::string cast(const std::string& x, DType from, DType to);
  std::string to_index(const std::string& x, DType from);

 private:
  LinalgEmitter& e_;
  std::vector<std::string> args_;
};

/// One input or output of a linalg.generic.
struct GenericOperand {
  std::string ssa;
  std::string type;
  std::string map;
};

class LinalgEmitter {
 public:
  explicit LinalgEmitter(const ir::Graph& graph) : graph_(graph) {}

  /// A fresh SSA name.
  std::string tmp() { return "%t" + std::to_string(next_++); }
  /// Appends one line to the function body at the current indentation.
  void line(const std::string& text);
  /// Indents the lines that follow by `delta` more spaces (a region's body).
  void indent(int delta) { indent_ += delta; }
  /// `%t = <text>`; returns `%t`.
  std::string op(const std::string& text);

  /// The tensor SSA value of `o` (materializing an inlined scalar constant when needed).
  std::string tensor(const Operand& o);
  /// `tensor.empty(%n) : tensor<?x4xf32>`: sizes of `?` dims from dim_value().
  std::string empty(DType dtype, const Shape& shape);

  // Note [Dynamic dims] (GraphToLinalg.cc): the sizes of a template's -1 dims, read once at
  // function entry from the arguments.
  /// Registers function argument `ssa` (a tensor of `shape`) as a source of its symbols' sizes.
  void add_dim_source(const std::string& ssa, DType dtype, const Shape& shape);
  /// The `index` SSA value of dim `d`: a constant, or (for a symbolic dim, Note [Symbolic dims]
  /// in shape.h) its monomial of the call's sizes, computed at function entry.
  std::string dim_value(int64_t d);
  /// The `?` dims' sizes of `shape` as an operand list: `%n, %m` (empty when static).
  std::string dynamic_sizes(const Shape& shape);
  /// `[%n, 4]`: every size of `shape`, for `output_shape` and mixed-size lists.
  std::string sizes_list(const Shape& shape);
  /// The scalar SSA value (of `dtype`) of symbolic dim `d` at this call's sizes, or with
  /// `reciprocal` of 1 / d (computed in double, then converted).
  std::string count_value(int64_t d, DType dtype, bool reciprocal);
  /// The function-entry lines dim_value() and count_value() emitted.
  std::string take_prologue() { return prologue_.str(); }
  /// Whether any `?` dim was emitted.
  bool dynamic() const { return !dim_sources_.empty(); }
  /// A tensor of `shape` filled with the literal `lit`.
  std::string filled(DType dtype, const Shape& shape, const std::string& lit);
  /// A linalg.generic over `rank` loops; returns its results (one per output).
  std::vector<std::string> generic(int rank, const std::vector<bool>& reduction, const std::vector<GenericOperand>& ins,
                                   const std::vector<GenericOperand>& outs,
                                   const std::function<std::vector<std::string>(Body&)>& body);
  /// An all-parallel generic writing a fresh tensor of (dtype, shape); inputs broadcast against
  /// `shape`; `scalar` operands are inlined as constants rather than read. `fn` gets one value
  /// per operand (in order) and returns the element.
  std::string elementwise(DType dtype, const Shape& shape, const std::vector<Operand>& in,
                          const std::function<std::string(Body&, const std::vector<std::string>&)>& fn);
  /// Registers a runtime check on integer tensor `indices`: a position whose value is outside
  /// [0, limit) (or, for DivisionByZero, equal to zero) is reported after the call.
  void check(RuntimeCheck::Kind kind, const Operand& values, int64_t limit);
  /// Makes the node's result a splat of `value` (no IR: readers inline it); returns "".
  std::string splat(DType dtype, double value);
  /// Whether the lowering just run made its result a splat, and which.
  bool take_splat(double* value);

  // Set by lower_graph for the node being lowered.
  int current_node = -1;
  const char* current_op = "";

  const ir::Graph& graph() const { return graph_; }
  std::string take_text() { return os_.str(); }
  /// Status tensors to materialize: one `%t` per check, in order.
  std::vector<std::string> status_values;
  std::vector<RuntimeCheck> checks;
  /// The row max and row sum of exp of each logits tensor the softmax family has reduced, by SSA
  /// value: a softmax in the gradient reuses the forward's (Note [Online softmax statistics] in
  /// GraphToLinalgReduce.cc). A value recorded at function level dominates the later nodes;
  /// emit_region forgets what a region recorded when it ends (its values live in its block).
  struct RowStats {
    std::string max, sum_exp;
  };
  std::map<std::string, RowStats> softmax_row_stats;
  /// Module-level lines printed before the function: the `func.func private` declarations of
  /// the C kernels compiled code calls (GraphToLinalgConv.cc), each once.
  std::set<std::string> declarations;

 private:
  friend class Body;
  const ir::Graph& graph_;
  std::ostringstream os_;
  int indent_ = 2;
  int next_ = 0;
  std::ostringstream prologue_;
  struct DimSource { std::string ssa, type; int dim; };
  std::map<int, DimSource> dim_sources_;  // by symbol
  std::map<int64_t, std::string> dim_values_;
  std::map<std::pair<std::string, int>, std::string> scalar_values_;
  bool has_splat_ = false;
  double splat_value_ = 0;
};

/// Inputs of one node, and where its results go.
struct LowerContext {
  const ir::GraphNode& node;
  std::vector<Operand> in;
  DType out_dtype;
  Shape out_shape;
};

/// Lowers one node: returns its result's SSA value (for an in-place op, the new value of each
/// input position, empty where not written).
using LowerFn = std::vector<std::string> (*)(LinalgEmitter& e, const LowerContext& c);

/// How an op is compiled: a linalg lowering, or (`host`) its eager kernel run by CompiledGraph
/// before the call with the result passed in as an argument (ops without inputs only).
struct OpLowering {
  LowerFn fn = nullptr;
  bool host = false;
  bool lowered() const { return fn != nullptr || host; }
};
/// The one lowering table, indexed by OpId. See GraphToLinalg.cc.
const OpLowering& lowering_of(OpId id);

/// Binds the result of a host-evaluated op (node index, its value) as a function argument.
using HostNodeFn = std::function<Operand(int node, const ir::GraphValue& out)>;
/// Emits the live nodes of `g`, the function's graph or a region: `vals` holds the operands of
/// the values defined outside its nodes (arguments, constants, variables) and receives every
/// node's results. `host_node` is null in regions (lowering_gap keeps host ops out of them).
void emit_nodes(LinalgEmitter& e, const ir::Graph& g, std::vector<Operand>& vals, const HostNodeFn& host_node);

/// A Cond node as scf.if, a WhileLoop node as scf.while (GraphToLinalgControlFlow.cc), its
/// regions emitted inline; `in` are the node's input operands. Returns one operand per result.
std::vector<Operand> emit_cond(LinalgEmitter& e, const ir::Graph& g, const ir::GraphNode& n,
                               const std::vector<Operand>& in);
std::vector<Operand> emit_while(LinalgEmitter& e, const ir::Graph& g, const ir::GraphNode& n,
                                const std::vector<Operand>& in);

// Lowerings by family (GraphToLinalgElementwise.cc, GraphToLinalgReduce.cc,
// GraphToLinalgStructural.cc, GraphToLinalgConv.cc, GraphToLinalgPool.cc).
#define KILN_LOWER_DECL_LINALG(Id) std::vector<std::string> lower_##Id(LinalgEmitter&, const LowerContext&);
#define KILN_LOWER_DECL_HOST(Id)
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) KILN_LOWER_DECL_##lowering(Id)
#include "kiln/op_table.def"
#undef KILN_OP
#undef KILN_LOWER_DECL_LINALG
#undef KILN_LOWER_DECL_HOST

}  // namespace kiln::compiler
