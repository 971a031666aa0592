// GraphToLinalgControlFlow: kiln::cond as scf.if and kiln::while_loop as scf.while, on tensors,
// with each region's nodes emitted inline in the scf region (Note [Regions] in tracer/graph.cc).
// A cond's regions read the enclosing operands directly (scf.if regions are not isolated); a
// loop's vars are block arguments. One-Shot Bufferize turns both into memref code (copying
// where a yielded buffer is not the loop's own), and scf-to-cf lowers them to branches.
//
// Note [Regions and dynamic dims]
// A template's -1 dims (Note [Dynamic dims]) need nothing of their own here: the results' and
// loop vars' types come from tensor_type (`?` where the values' dims follow a -1 dim, the same
// text for the scf.while's inits, block arguments and yields), and the nodes inside the regions
// ask dim_value() / count_value() for sizes, which are computed in the function's
// prologue and so dominate every region. dynamic_gap therefore checks a region's nodes as any
// other (naming the region in its reason) instead of refusing every cond and while_loop.
// Temporaries inside a region are not in the entry block, so the dynamic workspace leaves them
// as allocations, which Note [Temporary buffer cache] serves.
#include "kiln/compiler/GraphToLinalg.h"

namespace kiln::compiler {
namespace {

using ir::Graph;
using ir::GraphNode;

std::string joined(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

std::vector<std::string> result_types(const Graph& g, const GraphNode& n) {
  std::vector<std::string> types;
  for (int r : n.results) {
    const ir::GraphValue& v = g.values[static_cast<size_t>(r)];
    types.push_back(tensor_type(v.dtype, v.shape));
  }
  return types;
}

// `// %5, %6 = cond(%3, %arg0) : float32[4], float32[]`, the node's line in the traced stage.
void note(LinalgEmitter& e, const Graph& g, const GraphNode& n) {
  std::vector<std::string> results, inputs, types;
  for (int r : n.results) {
    results.push_back(g.value_name(r));
    types.push_back(ir::type_str(g.values[static_cast<size_t>(r)].dtype, g.values[static_cast<size_t>(r)].shape));
  }
  for (int v : n.inputs) inputs.push_back(g.value_name(v));
  e.line("// " + joined(results) + " = " + n.name() + "(" + joined(inputs) + ") : " + joined(types));
}

// The i1 held by a one-element bool operand.
std::string scalar_bool(LinalgEmitter& e, const Operand& p) {
  if (p.is_splat()) return e.op("arith.constant " + literal(p.value, DType::Bool) + " : i1");
  std::vector<std::string> index;
  if (p.shape.rank() > 0) index.assign(static_cast<size_t>(p.shape.rank()), e.op("arith.constant 0 : index"));
  return e.op("tensor.extract " + p.ssa + "[" + joined(index) + "] : " + tensor_type(DType::Bool, p.shape));
}

// Emits `region` with `args` bound to its argument positions; returns its outputs' operands.
// Softmax statistics computed outside stay usable inside (they dominate the region); those the
// region computes live in its block only, so they are forgotten after it: the other branch, or
// the code after the cond, must not read them.
std::vector<Operand> emit_region(LinalgEmitter& e, const Graph& region, const std::vector<Operand>& args) {
  std::vector<Operand> vals(region.values.size());
  for (size_t k = 0; k < region.arguments.size(); ++k)
    if (region.arguments[k] >= 0) vals[static_cast<size_t>(region.arguments[k])] = args[k];
  const std::map<std::string, LinalgEmitter::RowStats> enclosing_stats = e.softmax_row_stats;
  emit_nodes(e, region, vals, nullptr);
  e.softmax_row_stats = enclosing_stats;
  std::vector<Operand> outputs;
  for (int o : region.outputs) outputs.push_back(vals[static_cast<size_t>(o)]);
  return outputs;
}

// `scf.yield %a, %b : T1, T2` of a region's outputs (splats materialized).
void yield(LinalgEmitter& e, const std::vector<Operand>& outputs, const std::vector<std::string>& types) {
  std::vector<std::string> values;
  for (const Operand& o : outputs) values.push_back(e.tensor(o));
  e.line("scf.yield " + joined(values) + " : " + joined(types));
}

// `%t` (one result) or `%t:2`, and the operands `%t` / `%t#0`, `%t#1`.
std::string results_decl(const std::string& ssa, size_t count) {
  return count == 1 ? ssa : ssa + ":" + std::to_string(count);
}
std::vector<Operand> results_of(const std::string& ssa, const Graph& g, const GraphNode& n) {
  std::vector<Operand> out;
  for (size_t r = 0; r < n.results.size(); ++r) {
    const ir::GraphValue& v = g.values[static_cast<size_t>(n.results[r])];
    out.push_back(Operand{n.results.size() == 1 ? ssa : ssa + "#" + std::to_string(r), v.dtype, v.shape, ""});
  }
  return out;
}

}  // namespace

std::vector<Operand> emit_cond(LinalgEmitter& e, const Graph& g, const GraphNode& n, const std::vector<Operand>& in) {
  note(e, g, n);
  const std::string pred = scalar_bool(e, in[0]);
  const std::vector<Operand> captures(in.begin() + 1, in.end());
  const std::vector<std::string> types = result_types(g, n);
  const std::string res = e.tmp();
  e.line(results_decl(res, types.size()) + " = scf.if " + pred + " -> (" + joined(types) + ") {");
  for (size_t r = 0; r < 2; ++r) {
    if (r == 1) e.line("} else {");
    e.indent(2);
    e.line("// " + n.regions[r]->name);
    yield(e, emit_region(e, *n.regions[r], captures), types);
    e.indent(-2);
  }
  e.line("}");
  return results_of(res, g, n);
}

std::vector<Operand> emit_while(LinalgEmitter& e, const Graph& g, const GraphNode& n, const std::vector<Operand>& in) {
  note(e, g, n);
  const size_t vars = static_cast<size_t>(n.loop_vars);
  const std::vector<std::string> types = result_types(g, n);
  std::vector<std::string> inits, before, after, after_decl;
  for (size_t i = 0; i < vars; ++i) {
    const std::string init = e.tensor(in[i]);
    before.push_back(e.tmp());
    inits.push_back(before.back() + " = " + init);
    after.push_back(e.tmp());
    after_decl.push_back(after.back() + ": " + types[i]);
  }
  auto region_args = [&](const std::vector<std::string>& loop_vars) {
    std::vector<Operand> args;
    for (size_t i = 0; i < vars; ++i) args.push_back(Operand{loop_vars[i], in[i].dtype, in[i].shape, ""});
    args.insert(args.end(), in.begin() + static_cast<std::ptrdiff_t>(vars), in.end());
    return args;
  };
  const std::string res = e.tmp();
  e.line(results_decl(res, vars) + " = scf.while (" + joined(inits) + ") : (" + joined(types) + ") -> (" + joined(types) +
         ") {");
  e.indent(2);
  e.line("// " + n.regions[0]->name);
  const std::string go = scalar_bool(e, emit_region(e, *n.regions[0], region_args(before))[0]);
  e.line("scf.condition(" + go + ") " + joined(before) + " : " + joined(types));
  e.indent(-2);
  e.line("} do {");
  e.line("^bb0(" + joined(after_decl) + "):");
  e.indent(2);
  e.line("// " + n.regions[1]->name);
  yield(e, emit_region(e, *n.regions[1], region_args(after)), types);
  e.indent(-2);
  e.line("}");
  return results_of(res, g, n);
}

}  // namespace kiln::compiler
