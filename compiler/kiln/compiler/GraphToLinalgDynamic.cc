// GraphToLinalgDynamic: a template graph's -1 dims as dynamic sizes (Note [Dynamic dims]): where
// the emitter reads their sizes, the host scalars computed from them, and which ops can follow.
#include <optional>

#include "kiln/compiler/GraphToLinalg.h"
#include "kiln/compiler/compiled_graph.h"

namespace kiln::compiler {

// Note [Dynamic dims]
// A graph traced with symbolic -1 dims (Note [Symbolic dims] in shape.h) compiles once for every
// size: a symbolic dim prints as `?`, and where an op needs its size (tensor.empty,
// expand_shape's output_shape, a mean's count) it reads an `index` value computed once at
// function entry from the monomial: each symbol is tensor.dim of the first argument that has it
// as a dim, products are muli. Loop bounds follow the operands' (dynamic) shapes by themselves.
// CompiledGraph::run fills the descriptors' sizes and strides per call and checks that the
// arguments agree on each symbol (compiled_graph.cc).
// The ops whose lowerings only ever ask for sizes that way are ANY_DIM in op_table.def's dims
// column; those that follow a -1 dim in some positions only (SOME_DIMS: conv2d, pooling and
// their gradients: the batch; concat and slice: a dim they do not cut; gather and
// unsorted_segment_sum: a batch of indices; integer div and the sparse cross-entropy: all but
// what their runtime checks read) are checked per node by positional_gap; the nodes
// of kiln::cond / kiln::while_loop regions likewise (Note [Regions and dynamic dims] in
// GraphToLinalgControlFlow.cc). A live op that
// touches a -1 dim elsewhere (a convolution's height, a concatenated axis, unsorted_segment_sum's
// segments) makes dynamic_gap() say why, and kiln::function then compiles per size (Note [One
// compiled code for every size] in function.cc). Fusion and bufferization need nothing new: the
// passes that want static loop ranges skip dynamic generics, and the iris step fuses into as
// many loop nests (21) either way; its temporaries become dynamic allocations, which Note
// [Temporary buffer cache] serves (the Conv2D + Dense step of dynamic_dims_test with a -1 batch:
// one allocation per call, Note [Dynamic workspace]).
void LinalgEmitter::add_dim_source(const std::string& ssa, DType dtype, const Shape& shape) {
  for (int d = 0; d < shape.rank(); ++d) {
    if (!is_symbolic_dim(shape.sym(d))) continue;
    const Monomial m = monomial_of(shape.sym(d));
    for (int k = 0; k < kMaxSymbols; ++k)
      if (m.power[static_cast<size_t>(k)] != 0 && m.coeff == 1 && dim_of(m) == symbol_dim(k))
        dim_sources_.try_emplace(k, DimSource{ssa, tensor_type(dtype, shape), d});
  }
}

std::string LinalgEmitter::dim_value(int64_t d) {
  if (auto it = dim_values_.find(d); it != dim_values_.end()) return it->second;
  auto emit = [this](const std::string& text) {
    std::string r = tmp();
    prologue_ << "  " << r << " = " << text << "\n";
    return r;
  };
  std::string v;
  if (!is_symbolic_dim(d)) {
    v = emit("arith.constant " + std::to_string(d) + " : index");
  } else {
    const Monomial m = monomial_of(d);
    for (int k = 0; k < kMaxSymbols; ++k)
      for (int p = 0; p < m.power[static_cast<size_t>(k)]; ++p) {
        const int64_t s = symbol_dim(k);
        if (dim_values_.count(s) == 0) {
          auto src = dim_sources_.find(k);
          KILN_CHECK(src != dim_sources_.end(), "compiler: symbol s", k, " of a -1 dim appears in no tensor argument");
          dim_values_[s] = emit("tensor.dim " + src->second.ssa + ", " + dim_value(src->second.dim) + " : " + src->second.type);
        }
        v = v.empty() ? dim_values_[s] : emit("arith.muli " + v + ", " + dim_values_[s] + " : index");
      }
    if (m.coeff != 1) v = emit("arith.muli " + v + ", " + dim_value(m.coeff) + " : index");
  }
  dim_values_[d] = v;
  return v;
}

std::string LinalgEmitter::dynamic_sizes(const Shape& shape) {
  std::string s;
  for (int i = 0; i < shape.rank(); ++i)
    if (is_symbolic_dim(shape.sym(i))) s += (s.empty() ? "" : ", ") + dim_value(shape.sym(i));
  return s;
}

std::string LinalgEmitter::sizes_list(const Shape& shape) {
  std::string s = "[";
  for (int i = 0; i < shape.rank(); ++i)
    s += (i ? ", " : "") + (is_symbolic_dim(shape.sym(i)) ? dim_value(shape.sym(i)) : std::to_string(shape.sym(i)));
  return s + "]";
}

std::string LinalgEmitter::count_value(int64_t d, DType dtype, bool reciprocal) {
  const std::pair<std::string, int> key{std::to_string(d) + (reciprocal ? "r" : ""), static_cast<int>(dtype)};
  if (auto it = scalar_values_.find(key); it != scalar_values_.end()) return it->second;
  auto emit = [this](const std::string& text) {
    std::string v = tmp();
    prologue_ << "  " << v << " = " << text << "\n";
    return v;
  };
  const std::string n = emit("arith.index_cast " + dim_value(d) + " : index to i64");
  std::string v;
  if (is_floating(dtype) || reciprocal) {
    v = emit("arith.sitofp " + n + " : i64 to f64");
    if (reciprocal) v = emit("arith.divf " + emit("arith.constant 1.0 : f64") + ", " + v + " : f64");
    if (dtype == DType::Float32) v = emit("arith.truncf " + v + " : f64 to f32");
    else if (!is_floating(dtype)) v = emit("arith.fptosi " + v + " : f64 to " + elem_type(dtype));
  } else if (dtype == DType::Int32) {
    v = emit("arith.trunci " + n + " : i64 to i32");
  } else {
    KILN_CHECK(dtype == DType::Int64, "compiler: a ", dtype_name(dtype), " count of a -1 dim");
    v = n;
  }
  scalar_values_[key] = v;
  return v;
}

std::string LinalgEmitter::filled(DType dtype, const Shape& shape, const std::string& lit) {
  std::string c = is_entry_scalar(lit) ? lit : op("arith.constant " + lit + " : " + elem_type(dtype));
  std::string e = empty(dtype, shape);
  const std::string t = tensor_type(dtype, shape);
  return op("linalg.fill ins(" + c + " : " + elem_type(dtype) + ") outs(" + e + " : " + t + ") -> " + t);
}

namespace {
// The dims column of op_table.def (Note [Dynamic dims]). ANY_DIM: the lowering handles `?` dims
// anywhere (sizes only through empty(), filled(), sizes_list() and loop bounds, counts through
// count_value()). SOME_DIMS: it follows a -1 dim in some positions, and positional_gap says which.
enum class DimsColumn { AnyDim, SomeDims };
constexpr DimsColumn kDimsColumn[] = {
#define KILN_DIMS_ANY_DIM DimsColumn::AnyDim
#define KILN_DIMS_SOME_DIMS DimsColumn::SomeDims
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) KILN_DIMS_##dims,
#include "kiln/op_table.def"
#undef KILN_OP
#undef KILN_DIMS_ANY_DIM
#undef KILN_DIMS_SOME_DIMS
};
DimsColumn dims_column(OpId id) { return kDimsColumn[static_cast<size_t>(id)]; }

// The first dim of `s` at or after `from` that is symbolic, or -1.
int symbolic_dim_from(const Shape& s, int from) {
  for (int d = from; d < s.rank(); ++d)
    if (is_symbolic_dim(s.sym(d))) return d;
  return -1;
}

// Note [Dynamic dims]: ops whose lowering follows a -1 dim in some positions only. The
// convolutions and pools bake their images' height, width and channels into the geometry (the C
// kernels' im2col, the pools' window index arithmetic) and read only the batch (dim 0) from the
// buffers; concat and slice place their pieces at literal offsets along the axis they cut; gather
// and unsorted_segment_sum check indices against a literal row count with literal strides, an
// integer division its divisor with literal strides, the sparse cross-entropy its labels against
// a literal class count (LinalgEmitter::check). For a node that touches a -1 dim: "" when its lowering follows it, else
// why not, after "conv2d (node 3) has no dynamic-dims lowering".
std::string positional_gap(const ir::Graph& g, const ir::GraphNode& n) {
  auto shape_of = [&](int v) -> const Shape& { return g.values[static_cast<size_t>(v)].shape; };
  const Shape& out = shape_of(n.output);
  auto where = [](const std::string& what, int d, const std::string& why) {
    return " for a -1 dim at dim " + std::to_string(d) + " of " + what + " (" + why + ")";
  };
  auto input = [](size_t k) { return "input " + std::to_string(k); };
  switch (n.op) {
    case OpId::Conv2D: case OpId::Conv2DBackpropInput: case OpId::Conv2DBackpropFilter: case OpId::MaxPool2D:
    case OpId::AvgPool2D: case OpId::MaxPool2DGrad: case OpId::MaxPool2DGradGrad: case OpId::AvgPool2DGrad: {
      const bool conv = n.op == OpId::Conv2D || n.op == OpId::Conv2DBackpropInput || n.op == OpId::Conv2DBackpropFilter;
      const std::string why = conv ? "only the batch dim, 0, of a convolution's images follows one"
                                   : "only the batch dim, 0, of a pooling's images follows one";
      // The filter (conv2d's input 1, the input backprop's input 0, the filter backprop's
      // result) is never batched.
      const int filter_input = n.op == OpId::Conv2D ? 1 : n.op == OpId::Conv2DBackpropInput ? 0 : -1;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const int d = symbolic_dim_from(shape_of(n.inputs[k]), static_cast<int>(k) == filter_input ? 0 : 1);
        if (d >= 0) return where(input(k) + (static_cast<int>(k) == filter_input ? " (the filter)" : ""), d, why);
      }
      const int d = symbolic_dim_from(out, n.op == OpId::Conv2DBackpropFilter ? 0 : 1);
      if (d >= 0) return where("the result", d, why);
      const Shape& input_shape = conv ? n.attrs.as<Conv2DAttrs>().input_shape : n.attrs.as<Pool2DAttrs>().input_shape;
      if (int a = symbolic_dim_from(input_shape, n.op == OpId::Conv2DBackpropFilter ? 0 : 1); a >= 0)
        return where("the input_shape attribute", a, why);
      return "";
    }
    case OpId::Concat: {
      const int64_t axis = n.attrs.as<ConcatAttrs>().axis;
      const int ax = static_cast<int>(axis < 0 ? axis + out.rank() : axis);
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (is_symbolic_dim(shape_of(n.inputs[k]).sym(ax)))
          return where(input(k), ax, "the concatenated axis: the pieces' offsets along it are literals");
      return "";
    }
    case OpId::Slice: {
      const Shape& in = shape_of(n.inputs[0]);
      for (int d = 0; d < in.rank(); ++d) {
        const int64_t begin = n.attrs.as<SliceAttrs>().begin[d];
        if ((is_symbolic_dim(in.sym(d)) || is_symbolic_dim(out.sym(d)) || is_symbolic_dim(begin)) && (begin != 0 || out.sym(d) != in.sym(d)))
          return where(input(0), d, "a sliced dim: only a dim kept whole follows one");
      }
      return "";
    }
    case OpId::Gather: case OpId::UnsortedSegmentSum: {
      const std::string why = "the index range check's limit and strides are literals";
      if (n.op == OpId::Gather && is_symbolic_dim(shape_of(n.inputs[0]).sym(0))) return where("input 0 (the rows)", 0, why);
      if (n.op == OpId::UnsortedSegmentSum && is_symbolic_dim(out.sym(0))) return where("the result (the segments)", 0, why);
      if (int d = symbolic_dim_from(shape_of(n.inputs[1]), 1); d >= 0) return where("input 1 (the indices)", d, why);
      // The data is flattened to [ids, row]: only its ids' batch may follow a -1 dim.
      if (n.op == OpId::UnsortedSegmentSum)
        if (int d = symbolic_dim_from(shape_of(n.inputs[0]), 1); d >= 0)
          return where("input 0 (the data)", d, "the data's rows are flattened with a literal row length");
      return "";
    }
    // The runtime checks' flat positions and limits are literals too (LinalgEmitter::check):
    // integer division checks its divisor, whose dims after the first then may not follow a
    // -1 dim (fuzz seed 68186: int32 [N,N] / [N,N]); the label check's limit is the classes.
    case OpId::Div: {
      if (is_floating(g.values[static_cast<size_t>(n.inputs[1])].dtype)) return "";
      if (int d = symbolic_dim_from(shape_of(n.inputs[1]), 1); d >= 0)
        return where("input 1 (the divisor)", d, "an integer division's zero check has literal strides");
      return "";
    }
    case OpId::SparseSoftmaxCrossEntropy:
      if (is_symbolic_dim(shape_of(n.inputs[1]).sym(1)))
        return where("input 1 (the logits)", 1, "the label range check's limit, the classes, is a literal");
      return "";
    // A SOME_DIMS row without a rule here: no position is known to follow a -1 dim.
    default: return " for a -1 dim (its op has no rule of which dims follow one)";
  }
}
}  // namespace

namespace {
// dynamic_gap over `graph`, the function's graph or a region (`where` then names it: " inside
// kiln::cond's then"). A cond or while_loop node follows its -1 dims by itself (its results'
// and loop vars' types are `?` where the values' are, Note [Regions and dynamic dims]); what it
// holds is checked as any other node.
std::string gap_in(const ir::Graph& graph, const std::string& where) {
  const std::vector<bool> live = graph.live_nodes();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!live[i]) continue;
    const ir::GraphNode& n = graph.nodes[i];
    const std::string name = std::string(n.name()) + " (node " + std::to_string(i) + ")" + where;
    std::vector<const Shape*> shapes;
    for_each_field(n.attrs, [&](const char*, const auto& field) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, Shape>) shapes.push_back(&field);
    });
    for (int v : n.inputs) shapes.push_back(&graph.values[static_cast<size_t>(v)].shape);
    for (int v : n.defined_values()) shapes.push_back(&graph.values[static_cast<size_t>(v)].shape);
    bool symbolic = false;
    for (const Shape* s : shapes) symbolic = symbolic || s->symbolic();
    if (n.has_regions()) {
      for (const auto& region : n.regions)
        if (std::string gap = gap_in(*region, " inside kiln::" + std::string(n.name()) + "'s " + region->name); !gap.empty())
          return gap;
      continue;
    }
    if (!symbolic) continue;
    if (dims_column(n.op) == DimsColumn::AnyDim) continue;
    if (std::string gap = positional_gap(graph, n); !gap.empty()) return name + " has no dynamic-dims lowering" + gap;
  }
  return "";
}
}  // namespace

std::string dynamic_gap(const ir::Graph& graph) { return gap_in(graph, ""); }

}  // namespace kiln::compiler
