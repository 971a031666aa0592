// GraphToLinalg: the emitter, the lowering table, and the function skeleton (signature,
// in-place variable writes, outputs) of a traced graph's MLIR module.
//
// Note [Emitting MLIR as text]
// The module is printed as MLIR text and parsed once in LinalgToLLVM.cc, rather than built with
// OpBuilder: the emitters include no MLIR header (each MLIR-including file costs 5-20 s to
// compile, see shared/MLIR19-NOTES.md), the text *is* the "traced" stage the user reads (with a
// comment per graph node), and a mistake shows up as a parse error that points at a line of it.
// The parser verifies every op, so the text is no less checked than builder code.
//
// Note [Compiled function signature]
// All tensors enter as *tensor* arguments of one func.func, and every write leaves through
// `bufferization.materialize_in_destination %value in %dest` on a tensor argument, returned from
// the function. One-Shot Bufferize (bufferize-function-boundaries) then sees the aliasing
// between a variable's old value and its new one: where writing in place would clobber a value
// still read (var = transpose(var)), it copies; elsewhere (assign_sub, apply_adam) the producing
// loop writes the variable's storage directly once empty-tensor elimination has put the
// destination in place of the producer's tensor.empty. The alternative, memref arguments read
// with `to_tensor ... restrict` and written with memref-form materialize_in_destination, hides
// that aliasing from the analysis and was measured to miscompile var = transpose(var) in place.
// After bufferization every result is equivalent to its argument and
// drop-equivalent-buffer-results removes it, so the final function takes only memrefs.
// Variables that are only read, arguments and constants are `bufferization.writable = false`.
#include "kiln/compiler/GraphToLinalg.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "kiln/tracer/signature.h"

namespace kiln::compiler {

// ---- Types, literals, maps ----------------------------------------------------------------

const char* elem_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "f32";
    case DType::Float64: return "f64";
    case DType::Int32: return "i32";
    case DType::Int64: return "i64";
    case DType::Bool: return "i1";
  }
  return "?";
}

std::string tensor_type(DType dtype, const Shape& shape) {
  std::string s = "tensor<";
  for (int i = 0; i < shape.rank(); ++i)
    s += (is_symbolic_dim(shape.sym(i)) ? std::string("?") : std::to_string(shape.sym(i))) + "x";
  return s + elem_type(dtype) + ">";
}

std::string literal_f32(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", bits);
  return buf;
}

std::string literal_f64(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, 8);
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llX", static_cast<unsigned long long>(bits));
  return buf;
}

std::string literal(double value, DType dtype) {
  switch (dtype) {
    case DType::Float32: return literal_f32(static_cast<float>(value));
    case DType::Float64: return literal_f64(value);
    case DType::Int32: return std::to_string(static_cast<int32_t>(value));
    case DType::Int64: return std::to_string(static_cast<int64_t>(value));
    case DType::Bool: return value != 0 ? "1" : "0";  // `arith.constant 1 : i1` (`true : i1` does not parse)
  }
  return "?";
}

double converted(double value, DType dtype) {
  switch (dtype) {
    case DType::Float32: return static_cast<float>(value);
    case DType::Float64: return value;
    case DType::Int32: return static_cast<int32_t>(value);
    case DType::Int64: return static_cast<double>(static_cast<int64_t>(value));
    case DType::Bool: return value != 0 ? 1 : 0;
  }
  return value;
}

std::string affine_map(int rank, const std::vector<std::string>& exprs) {
  std::string s = "affine_map<(";
  for (int d = 0; d < rank; ++d) s += (d ? ", d" : "d") + std::to_string(d);
  s += ") -> (";
  for (size_t i = 0; i < exprs.size(); ++i) s += (i ? ", " : "") + exprs[i];
  return s + ")>";
}

std::string identity_map(int rank) {
  std::vector<std::string> e;
  for (int d = 0; d < rank; ++d) e.push_back("d" + std::to_string(d));
  return affine_map(rank, e);
}

std::string broadcast_map(const Shape& in, const Shape& out) {
  std::vector<std::string> e;
  const int lead = out.rank() - in.rank();
  for (int k = 0; k < in.rank(); ++k) {
    const int d = k + lead;
    e.push_back(in.sym(k) == 1 && out.sym(d) != 1 ? "0" : "d" + std::to_string(d));
  }
  return affine_map(out.rank(), e);
}

namespace {
// `f32` from `tensor<4x3xf32>`.
std::string elem_of(const std::string& type) {
  size_t end = type.rfind('>');
  size_t start = type.find_last_of("x<", end);
  return type.substr(start + 1, end - start - 1);
}
}  // namespace

// ---- Body: scalar ops inside a linalg.generic --------------------------------------------

std::string Body::op(const std::string& text) { return e_.op(text); }

std::string Body::constant(const std::string& lit, DType dtype) {
  if (is_entry_scalar(lit)) return lit;  // defined above the loops
  return op("arith.constant " + lit + " : " + elem_type(dtype));
}

std::string Body::index(int dim) { return op("linalg.index " + std::to_string(dim) + " : index"); }

namespace {
std::string binop(Body& b, const char* fop, const char* iop, const std::string& x, const std::string& y, DType t) {
  return b.op(std::string(is_floating(t) ? fop : iop) + " " + x + ", " + y + " : " + elem_type(t));
}
}  // namespace

std::string Body::add(const std::string& a, const std::string& b, DType t) { return binop(*this, "arith.addf", "arith.addi", a, b, t); }
std::string Body::sub(const std::string& a, const std::string& b, DType t) { return binop(*this, "arith.subf", "arith.subi", a, b, t); }
std::string Body::mul(const std::string& a, const std::string& b, DType t) { return binop(*this, "arith.mulf", "arith.muli", a, b, t); }
std::string Body::div(const std::string& a, const std::string& b, DType t) { return binop(*this, "arith.divf", "arith.divsi", a, b, t); }

std::string Body::greater(const std::string& a, const std::string& b, DType t) {
  if (is_floating(t)) return op("arith.cmpf ogt, " + a + ", " + b + " : " + elem_type(t));
  return op(std::string("arith.cmpi ") + (t == DType::Bool ? "ugt" : "sgt") + ", " + a + ", " + b + " : " + elem_type(t));
}

std::string Body::less(const std::string& a, const std::string& b, DType t) {
  if (is_floating(t)) return op("arith.cmpf olt, " + a + ", " + b + " : " + elem_type(t));
  return op(std::string("arith.cmpi ") + (t == DType::Bool ? "ult" : "slt") + ", " + a + ", " + b + " : " + elem_type(t));
}

std::string Body::select(const std::string& c, const std::string& a, const std::string& b, DType t) {
  return op("arith.select " + c + ", " + a + ", " + b + " : " + elem_type(t));
}

// static_cast<To>(x) in C++ terms: float -> int truncates, int/bool -> float converts, anything
// -> bool is `x != 0`, integer widths sign-extend or truncate, bool widens to 0/1.
std::string Body::cast(const std::string& x, DType from, DType to) {
  if (from == to) return x;
  const std::string ft = elem_type(from), tt = elem_type(to);
  if (to == DType::Bool) {
    if (is_floating(from)) return op("arith.cmpf une, " + x + ", " + constant(literal(0, from), from) + " : " + ft);
    return op("arith.cmpi ne, " + x + ", " + constant("0", from) + " : " + ft);
  }
  if (is_floating(from) && is_floating(to))
    return op(std::string(from == DType::Float32 ? "arith.extf " : "arith.truncf ") + x + " : " + ft + " to " + tt);
  if (is_floating(from)) return op("arith.fptosi " + x + " : " + ft + " to " + tt);
  if (is_floating(to)) return op(std::string(from == DType::Bool ? "arith.uitofp " : "arith.sitofp ") + x + " : " + ft + " to " + tt);
  if (from == DType::Bool) return op("arith.extui " + x + " : i1 to " + tt);
  if (dtype_size(from) < dtype_size(to)) return op("arith.extsi " + x + " : " + ft + " to " + tt);
  return op("arith.trunci " + x + " : " + ft + " to " + tt);
}

std::string Body::to_index(const std::string& x, DType from) {
  return op("arith.index_cast " + x + " : " + elem_type(from) + " to index");
}

// ---- LinalgEmitter ------------------------------------------------------------------------

void LinalgEmitter::line(const std::string& text) { os_ << std::string(static_cast<size_t>(indent_), ' ') << text << "\n"; }

std::string LinalgEmitter::op(const std::string& text) {
  std::string r = tmp();
  line(r + " = " + text);
  return r;
}

std::string LinalgEmitter::tensor(const Operand& o) {
  if (!o.ssa.empty()) return o.ssa;
  return filled(o.dtype, o.shape, o.scalar);
}

std::string LinalgEmitter::empty(DType dtype, const Shape& shape) {
  return op("tensor.empty(" + dynamic_sizes(shape) + ") : " + tensor_type(dtype, shape));
}

std::vector<std::string> LinalgEmitter::generic(int rank, const std::vector<bool>& reduction,
                                                const std::vector<GenericOperand>& ins,
                                                const std::vector<GenericOperand>& outs,
                                                const std::function<std::vector<std::string>(Body&)>& body) {
  const std::string result = tmp();
  std::string head = result + (outs.size() > 1 ? ":" + std::to_string(outs.size()) : "") + " = linalg.generic {indexing_maps = [";
  bool first = true;
  for (const auto* list : {&ins, &outs})
    for (const GenericOperand& o : *list) {
      head += (first ? "" : ", ") + o.map;
      first = false;
    }
  head += "], iterator_types = [";
  for (int d = 0; d < rank; ++d)
    head += std::string(d ? ", " : "") + (reduction.empty() || !reduction[static_cast<size_t>(d)] ? "\"parallel\"" : "\"reduction\"");
  head += "]}";
  auto operand_list = [](const char* kw, const std::vector<GenericOperand>& v) {
    if (v.empty()) return std::string();
    std::string s = std::string(" ") + kw + "(";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i].ssa;
    s += " : ";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i].type;
    return s + ")";
  };
  head += operand_list("ins", ins) + operand_list("outs", outs) + " {";
  line(head);
  std::vector<std::string> args;
  std::string bb = "^bb0(";
  for (const auto* list : {&ins, &outs})
    for (const GenericOperand& o : *list) {
      args.push_back(tmp());
      bb += (args.size() > 1 ? ", " : "") + args.back() + ": " + elem_of(o.type);
    }
  line(bb + "):");
  indent_ += 2;
  Body b(*this, args);
  std::vector<std::string> yields = body(b);
  KILN_ASSERT(yields.size() == outs.size(), "a linalg.generic body yields one value per output");
  std::string y = "linalg.yield ";
  for (size_t i = 0; i < yields.size(); ++i) y += (i ? ", " : "") + yields[i];
  y += " : ";
  for (size_t i = 0; i < outs.size(); ++i) y += (i ? ", " : "") + elem_of(outs[i].type);
  line(y);
  indent_ -= 2;
  std::string tail = outs.size() > 1 ? "} -> (" : "} -> ";
  for (size_t i = 0; i < outs.size(); ++i) tail += (i ? ", " : "") + outs[i].type;
  line(tail + (outs.size() > 1 ? ")" : ""));
  if (outs.size() == 1) return {result};
  std::vector<std::string> results;
  for (size_t i = 0; i < outs.size(); ++i) results.push_back(result + "#" + std::to_string(i));
  return results;
}

std::string LinalgEmitter::elementwise(DType dtype, const Shape& shape, const std::vector<Operand>& in,
                                       const std::function<std::string(Body&, const std::vector<std::string>&)>& fn) {
  std::vector<GenericOperand> ins;
  for (const Operand& o : in)
    if (!o.ssa.empty())
      ins.push_back({o.ssa, tensor_type(o.dtype, o.shape), broadcast_map(o.shape, shape)});
  const std::string out = empty(dtype, shape);
  return generic(shape.rank(), {}, ins, {{out, tensor_type(dtype, shape), identity_map(shape.rank())}},
                 [&](Body& b) -> std::vector<std::string> {
                   std::vector<std::string> v;
                   size_t k = 0;
                   for (const Operand& o : in) v.push_back(o.ssa.empty() && !o.scalar.empty() ? b.constant(o.scalar, o.dtype) : b.arg(k++));
                   return {fn(b, v)};
                 })[0];
}

std::string LinalgEmitter::splat(DType dtype, double value) {
  has_splat_ = true;
  splat_value_ = converted(value, dtype);
  return "";
}

bool LinalgEmitter::take_splat(double* value) {
  const bool had = has_splat_;
  has_splat_ = false;
  *value = splat_value_;
  return had;
}

// A reduction over all of `values` into {first bad flat position (-1: none), its value}.
void LinalgEmitter::check(RuntimeCheck::Kind kind, const Operand& values, int64_t limit) {
  const Shape& s = values.shape;
  const int r = s.rank();
  // The limit and the flat position's strides are literals: they must not follow a -1 dim
  // (kiln::function then compiles per size, Note [Dynamic dims]).
  bool symbolic = is_symbolic_dim(limit);
  for (int d = 1; d < r; ++d) symbolic = symbolic || is_symbolic_dim(s.sym(d));
  KILN_CHECK(!symbolic, "compiler: ", current_op, ": a runtime range check over a -1 dim has no dynamic-dims lowering");
  const std::string p0 = filled(DType::Int64, Shape{}, "-1"), v0 = filled(DType::Int64, Shape{}, "0");
  const std::string scalar_map = affine_map(r, {});
  std::vector<std::string> res = generic(
      r, std::vector<bool>(static_cast<size_t>(r), true), {{tensor(values), tensor_type(values.dtype, s), identity_map(r)}},
      {{p0, "tensor<i64>", scalar_map}, {v0, "tensor<i64>", scalar_map}}, [&](Body& b) -> std::vector<std::string> {
        std::string x = b.cast(b.arg(0), values.dtype, DType::Int64);
        std::string zero = b.constant("0", DType::Int64);
        std::string bad;
        if (kind == RuntimeCheck::DivisionByZero) {
          bad = b.op("arith.cmpi eq, " + x + ", " + zero + " : i64");
        } else {
          std::string lo = b.op("arith.cmpi slt, " + x + ", " + zero + " : i64");
          std::string hi = b.op("arith.cmpi sge, " + x + ", " + b.constant(std::to_string(limit), DType::Int64) + " : i64");
          bad = b.op("arith.ori " + lo + ", " + hi + " : i1");
        }
        std::string none = b.op("arith.cmpi slt, " + b.arg(1) + ", " + zero + " : i64");
        std::string take = b.op("arith.andi " + bad + ", " + none + " : i1");
        std::string flat = b.constant("0", DType::Int64);
        int64_t stride = 1;
        for (int d = r - 1; d >= 0; --d) {
          std::string i = b.op("arith.index_cast " + b.index(d) + " : index to i64");
          flat = b.add(flat, b.mul(i, b.constant(std::to_string(stride), DType::Int64), DType::Int64), DType::Int64);
          if (d > 0) stride *= s.sym(d);  // static (checked above)
        }
        return {b.select(take, flat, b.arg(1), DType::Int64), b.select(take, x, b.arg(2), DType::Int64)};
      });
  std::string p = op("tensor.extract " + res[0] + "[] : tensor<i64>");
  std::string v = op("tensor.extract " + res[1] + "[] : tensor<i64>");
  status_values.push_back(op("tensor.from_elements " + p + ", " + v + " : tensor<2xi64>"));
  checks.push_back(RuntimeCheck{kind, current_op, limit, current_node});
}

// ---- The lowering table -------------------------------------------------------------------

namespace {
// Every op of op_table.def and how it compiles (its lowering column), in the table's order, so
// indexed by OpId: LINALG rows by their lower_<Id>; HOST rows (the random ops) run their eager
// kernel on the host (same seed attribute, same values as eager and GraphRunner) and enter the
// compiled function as arguments.
#define KILN_LOWERING_LINALG(Id) OpLowering{lower_##Id}
#define KILN_LOWERING_HOST(Id) OpLowering{nullptr, true}
const OpLowering kLowerings[] = {
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) KILN_LOWERING_##lowering(Id),
#include "kiln/op_table.def"
#undef KILN_OP
};
#undef KILN_LOWERING_LINALG
#undef KILN_LOWERING_HOST
static_assert(std::size(kLowerings) == kNumOps);

std::string sanitize(const std::string& name) {
  std::string s = "kiln_";
  for (char ch : name) s += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') ? ch : '_';
  return s;
}
}  // namespace

const OpLowering& lowering_of(OpId id) { return kLowerings[static_cast<size_t>(id)]; }

namespace {
// Ops whose lowering registers a runtime check (LinalgEmitter::check; the effects column): its
// status buffer is written at the function's end, which a value inside a region does not reach.
bool has_runtime_check(const ir::Graph& g, const ir::GraphNode& n) {
  switch (op_def(n.op).effects) {
    case OpEffects::Checks: return true;
    case OpEffects::ChecksIntegers: return !is_floating(g.values[static_cast<size_t>(n.inputs[0])].dtype);
    default: return false;
  }
}

// `where` is empty for the function's graph, else names the region ("inside kiln::cond's then").
std::string gap_in(const ir::Graph& graph, const std::string& where) {
  const std::vector<bool> live = graph.live_nodes();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!live[i]) continue;
    const ir::GraphNode& n = graph.nodes[i];
    const std::string op = std::string("op '") + n.name() + "' (node " + std::to_string(i) + ")" + where;
    if (n.has_regions()) {
      for (const auto& region : n.regions)
        if (std::string gap = gap_in(*region, " inside kiln::" + std::string(n.name()) + "'s " + region->name); !gap.empty())
          return gap;
      continue;
    }
    if (!lowering_of(n.op).lowered()) return op + " has no compiler lowering";
    if (where.empty()) continue;
    if (lowering_of(n.op).host)
      return op + " draws its numbers on the host before the compiled call, which cannot follow a region";
    if (has_runtime_check(graph, n))
      return op + " needs a runtime check (index range or division by zero) that compiled regions do not report";
  }
  return "";
}
}  // namespace

std::string lowering_gap(const ir::Graph& graph) { return gap_in(graph, ""); }

// ---- Nodes ----------------------------------------------------------------------------------

void emit_nodes(LinalgEmitter& e, const ir::Graph& g, std::vector<Operand>& vals, const HostNodeFn& host_node) {
  const std::vector<bool> live = g.live_nodes();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!live[i]) continue;
    const ir::GraphNode& n = g.nodes[i];
    std::vector<Operand> in;
    for (int v : n.inputs) {
      KILN_ASSERT(!vals[static_cast<size_t>(v)].ssa.empty() || !vals[static_cast<size_t>(v)].scalar.empty(),
                  "node inputs are defined before use");
      in.push_back(vals[static_cast<size_t>(v)]);
    }
    if (n.has_regions()) {
      std::vector<Operand> res = n.kind == ir::NodeKind::Cond ? emit_cond(e, g, n, in) : emit_while(e, g, n, in);
      for (size_t r = 0; r < res.size(); ++r) vals[static_cast<size_t>(n.results[r])] = res[r];
      continue;
    }
    const OpLowering& low = lowering_of(n.op);
    const ir::GraphValue& out = g.values[static_cast<size_t>(n.output)];
    {
      std::string note = "// ";
      if (n.writes.empty()) note += g.value_name(n.output);
      for (size_t w = 0; w < n.writes.size(); ++w) note += (w ? ", " : "") + g.value_name(n.writes[w].value);
      note += std::string(" = ") + n.name() + "(";
      for (size_t k = 0; k < n.inputs.size(); ++k) note += (k ? ", " : "") + g.value_name(n.inputs[k]);
      e.line(note + ") : " + ir::type_str(out.dtype, out.shape));
    }
    if (low.host) {
      KILN_ASSERT(n.inputs.empty() && n.writes.empty() && host_node != nullptr,
                  "host-evaluated ops have no inputs and are not in regions (lowering_gap)");
      vals[static_cast<size_t>(n.output)] = host_node(static_cast<int>(i), out);
      continue;
    }
    LowerContext ctx{n, std::move(in), out.dtype, out.shape};
    e.current_node = static_cast<int>(i);
    e.current_op = n.name();
    const size_t checks_before = e.checks.size();
    std::vector<std::string> res = low.fn(e, ctx);
    KILN_ASSERT(host_node != nullptr || e.checks.size() == checks_before,
                "ops with runtime checks are not in regions (lowering_gap)");
    double splat_value;
    if (e.take_splat(&splat_value)) {
      KILN_ASSERT(n.writes.empty(), "an in-place op's result is not a splat");
      vals[static_cast<size_t>(n.output)] = Operand{"", out.dtype, out.shape, literal(splat_value, out.dtype), splat_value};
      if (out.dtype == DType::Int64) vals[static_cast<size_t>(n.output)].scalar = std::to_string(static_cast<int64_t>(splat_value));
      e.line("//   (a splat of " + vals[static_cast<size_t>(n.output)].scalar + ", inlined where read)");
    } else if (n.writes.empty()) {
      KILN_ASSERT(res.size() == 1, "a lowering returns one result");
      vals[static_cast<size_t>(n.output)] = Operand{res[0], out.dtype, out.shape, ""};
    } else {
      for (const ir::GraphNode::Write& w : n.writes) {
        KILN_ASSERT(static_cast<size_t>(w.position) < res.size() && !res[static_cast<size_t>(w.position)].empty(),
                    "an in-place lowering returns the new value of each written input");
        const ir::GraphValue& wv = g.values[static_cast<size_t>(w.value)];
        vals[static_cast<size_t>(w.value)] = Operand{res[static_cast<size_t>(w.position)], wv.dtype, wv.shape, ""};
      }
    }
  }
}

// ---- The function skeleton ----------------------------------------------------------------

LinalgModule lower_graph(const ir::Graph& g) {
  using ir::ValueKind;
  const std::string gap = lowering_gap(g);
  KILN_CHECK(gap.empty(), "compiler: kiln::function '", g.name, "': ", gap);

  const std::vector<bool> live = g.live_nodes();
  std::vector<bool> needed(g.values.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (live[i])
      for (int v : g.nodes[i].inputs) needed[static_cast<size_t>(v)] = true;
  for (int o : g.outputs)
    if (o != ir::kUndefinedOutput) needed[static_cast<size_t>(o)] = true;

  LinalgModule m;
  m.function_name = sanitize(g.name);
  LinalgEmitter e(g);
  std::vector<Operand> vals(g.values.size());
  std::vector<std::string> params;  // `%arg0: tensor<..> {bufferization.writable = false}`
  auto add_param = [&](FunctionArg::Kind kind, int index, DType dtype, const Shape& shape, const std::string& ssa,
                       bool writable) {
    m.args.push_back(FunctionArg{kind, index, dtype, shape});
    params.push_back(ssa + ": " + tensor_type(dtype, shape) + " {bufferization.writable = " + (writable ? "true" : "false") + "}");
  };

  // Which variables are written, and the value each ends with.
  std::vector<int> final_value(g.variables.size());
  for (size_t k = 0; k < g.variables.size(); ++k) final_value[k] = g.variables[k].initial;
  std::vector<bool> written(g.variables.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (live[i])
      for (const ir::GraphNode::Write& w : g.nodes[i].writes) {
        written[static_cast<size_t>(w.variable)] = true;
        final_value[static_cast<size_t>(w.variable)] = w.value;
      }

  for (size_t k = 0; k < g.arguments.size(); ++k) {
    const int id = g.arguments[k];
    if (id < 0) continue;
    const ir::GraphValue& v = g.values[static_cast<size_t>(id)];
    const std::string ssa = "%arg" + std::to_string(k);
    add_param(FunctionArg::Argument, static_cast<int>(k), v.dtype, v.shape, ssa, false);
    vals[static_cast<size_t>(id)] = Operand{ssa, v.dtype, v.shape, ""};
    e.add_dim_source(ssa, v.dtype, v.shape);
  }
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::GraphValue& gv = g.values[v];
    if (gv.kind != ValueKind::Constant || !needed[v]) continue;
    const Tensor& c = g.constants[static_cast<size_t>(gv.index)];
    if (c.num_elements() == 1) {  // inlined into the loop bodies that read it
      vals[v] = Operand{"", gv.dtype, gv.shape, literal(c.item<double>(), gv.dtype), c.item<double>()};
      if (gv.dtype == DType::Int64) vals[v].scalar = std::to_string(c.item<int64_t>());
      continue;
    }
    const std::string ssa = "%c" + std::to_string(gv.index);
    add_param(FunctionArg::Constant, gv.index, gv.dtype, gv.shape, ssa, false);
    vals[v] = Operand{ssa, gv.dtype, gv.shape, ""};
  }
  for (size_t k = 0; k < g.variables.size(); ++k) {
    const int id = g.variables[k].initial;
    if (!needed[static_cast<size_t>(id)] && !written[k]) continue;
    const ir::GraphValue& v = g.values[static_cast<size_t>(id)];
    const std::string ssa = "%var" + std::to_string(k);
    add_param(FunctionArg::Variable, static_cast<int>(k), v.dtype, v.shape, ssa, written[k]);
    vals[static_cast<size_t>(id)] = Operand{ssa, v.dtype, v.shape, ""};
    if (written[k]) m.written_variables.push_back(static_cast<int>(k));
  }

  emit_nodes(e, g, vals, [&](int node, const ir::GraphValue& out) {
    const std::string ssa = "%host" + std::to_string(node);
    add_param(FunctionArg::HostNode, node, out.dtype, out.shape, ssa, false);
    return Operand{ssa, out.dtype, out.shape, ""};
  });

  // Outputs: arguments, constants and a variable's final value are handed back by reference
  // (as GraphRunner does); everything else is written into a buffer the caller allocates.
  std::vector<std::string> results, result_types;
  auto materialize = [&](const std::string& value, const std::string& dest, const std::string& type) {
    results.push_back(e.op("bufferization.materialize_in_destination " + value + " in " + dest + " : (" + type + ", " +
                           type + ") -> " + type));
    result_types.push_back(type);
  };
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const int o = g.outputs[k];
    OutputPlan plan;
    if (o == ir::kUndefinedOutput) {
      m.outputs.push_back(plan);
      continue;
    }
    const ir::GraphValue& v = g.values[static_cast<size_t>(o)];
    if (v.kind == ValueKind::Argument) {
      plan = {OutputPlan::ArgumentTensor, v.index};
    } else if (v.kind == ValueKind::Constant) {
      plan = {OutputPlan::ConstantTensor, v.index};
    } else if ((v.kind == ValueKind::VariableInitial || v.kind == ValueKind::VariableUpdate) &&
               final_value[static_cast<size_t>(v.index)] == o) {
      plan = {OutputPlan::VariableAlias, v.index};
    } else {
      const std::string ssa = "%out" + std::to_string(k);
      plan = {OutputPlan::Buffer, static_cast<int>(m.args.size())};
      add_param(FunctionArg::Output, static_cast<int>(k), v.dtype, v.shape, ssa, true);
      materialize(e.tensor(vals[static_cast<size_t>(o)]), ssa, tensor_type(v.dtype, v.shape));
    }
    m.outputs.push_back(plan);
  }
  for (size_t c = 0; c < e.status_values.size(); ++c) {
    const std::string ssa = "%status" + std::to_string(c);
    add_param(FunctionArg::Status, static_cast<int>(c), DType::Int64, Shape{2}, ssa, true);
    materialize(e.status_values[c], ssa, "tensor<2xi64>");
  }
  m.checks = e.checks;
  m.dynamic = e.dynamic();
  // The variables' new values, last: every read of an old value comes before in program order.
  for (int k : m.written_variables) {
    const Operand& fin = vals[static_cast<size_t>(final_value[static_cast<size_t>(k)])];
    materialize(e.tensor(fin), "%var" + std::to_string(k), tensor_type(fin.dtype, fin.shape));
  }
  std::string rets = "  return";
  for (size_t i = 0; i < results.size(); ++i) rets += (i ? ", " : " ") + results[i];
  if (!results.empty()) {
    rets += " : ";
    for (size_t i = 0; i < result_types.size(); ++i) rets += (i ? ", " : "") + result_types[i];
  }

  std::ostringstream os;
  os << "// kiln::function '" << g.name << "' traced to linalg on tensors\n";
  os << "module {\n";
  for (const std::string& d : e.declarations) os << d << "\n";
  os << "func.func @" << m.function_name << "(";
  for (size_t i = 0; i < params.size(); ++i) os << (i ? ",\n    " : "") << params[i];
  os << ")";
  if (!result_types.empty()) {
    os << " -> (";
    for (size_t i = 0; i < result_types.size(); ++i) os << (i ? ", " : "") << result_types[i];
    os << ")";
  }
  os << " attributes {llvm.emit_c_interface} {\n" << e.take_prologue() << e.take_text() << rets << "\n}\n}\n";
  m.text = os.str();
  return m;
}

}  // namespace kiln::compiler
