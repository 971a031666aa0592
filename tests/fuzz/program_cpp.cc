// A fuzz program as a stand-alone C++ reproducer (a GoogleTest case): its arguments and
// variables as literals, the step as a lambda run eagerly and under kiln::function, compared.
#include <algorithm>
#include <iomanip>
#include <sstream>

#include "tests/fuzz/program.h"

namespace kiln::fuzz {

namespace {

const char* cpp_type(DType t) {
  switch (t) {
    case DType::Float32: return "float";
    case DType::Float64: return "double";
    case DType::Int32: return "int32_t";
    case DType::Int64: return "int64_t";
    case DType::Bool: return "bool";
  }
  return "?";
}

const char* cpp_dtype(DType t) {
  switch (t) {
    case DType::Float32: return "DType::Float32";
    case DType::Float64: return "DType::Float64";
    case DType::Int32: return "DType::Int32";
    case DType::Int64: return "DType::Int64";
    case DType::Bool: return "DType::Bool";
  }
  return "?";
}

std::string literal(const Tensor& t) {
  std::ostringstream os;
  os << std::setprecision(9) << "Tensor::from_vector<" << cpp_type(t.dtype()) << ">({";
  const std::vector<double> v = t.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "}, {";
  for (int i = 0; i < t.rank(); ++i) os << (i ? ", " : "") << t.dim(i);
  return os.str() + "})";
}

std::string number(double x) {
  std::ostringstream os;
  os << std::setprecision(17) << x;
  return os.str();
}

std::string list(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

class CppWriter {
 public:
  explicit CppWriter(const Program& p) : p_(p) {}

  std::string var(int id) const { return (p_.is_variable(id) ? "v" : "t") + std::to_string(id); }
  // A dim in C++: a -1 dim as the dim the lambda reads from its arguments (N, M: symbolic, or
  // a size when the program reads sizes).
  static std::string dim(const Dim& d) {
    if (!d.symbolic()) return std::to_string(d.coef);
    const std::string n = d.cls == 0 ? "N" : "M";
    return d.coef == 1 ? n : "dim_mul(" + std::to_string(d.coef) + ", " + n + ")";
  }
  static std::string shape(const Dims& dims, bool first_minus_one = false) {
    std::string s = "{";
    bool replaced = false;
    for (size_t i = 0; i < dims.size(); ++i) {
      const bool minus_one = first_minus_one && dims[i].symbolic() && !replaced;
      replaced = replaced || minus_one;
      s += (i ? ", " : "") + (minus_one ? std::string("-1") : dim(dims[i]));
    }
    return s + "}";
  }
  static std::string shape_arg(const Dims& dims) { return "Shape::of_dims(" + shape(dims) + ")"; }
  std::string args(const Instr& in, size_t from = 0) const {
    std::string s;
    for (size_t k = from; k < in.in.size(); ++k) s += (k > from ? ", " : "") + var(in.in[k]);
    return s;
  }
  std::string padding(const Instr& in) const { return in.b0 ? "\"same\"" : "\"valid\""; }

  std::string call(const Instr& in) const {
    const std::string name = op_def(in.op).name;
    const std::string a = args(in);
    const std::string strides = in.ints.size() >= 2 ? "{" + std::to_string(in.ints[0]) + ", " + std::to_string(in.ints[1]) + "}" : "";
    auto window = [&] {
      return "{" + std::to_string(in.ints[0]) + ", " + std::to_string(in.ints[1]) + "}, {" + std::to_string(in.ints[2]) + ", " +
             std::to_string(in.ints[3]) + "}, " + padding(in);
    };
    switch (in.op) {
      case OpId::Cast: return "cast(" + a + ", " + cpp_dtype(in.dtype) + ")";
      case OpId::Dropout: return "dropout(" + a + ", " + number(in.f0) + ", true, &gen)";
      case OpId::MatMul: return "matmul(" + a + ", " + (in.b0 ? "true" : "false") + ", " + (in.b1 ? "true" : "false") + ")";
      case OpId::Conv2D: return "conv2d(" + a + ", " + strides + ", " + padding(in) + ")";
      case OpId::Conv2DBackpropInput:
        return "conv2d_backprop_input(" + shape_arg(in.shape) + ", " + a + ", " + strides + ", " + padding(in) + ")";
      case OpId::Conv2DBackpropFilter:
        return "conv2d_backprop_filter(" + var(in.in[0]) + ", " + shape_arg(in.shape) + ", " + var(in.in[1]) + ", " + strides +
               ", " + padding(in) + ")";
      case OpId::ReduceSum:
      case OpId::ReduceMean:
      case OpId::ReduceMax: return name + "(" + a + ", " + list(in.ints) + ", " + (in.b0 ? "true" : "false") + ")";
      case OpId::ArgMax: return "argmax(" + a + ", " + std::to_string(in.ints[0]) + ", " + cpp_dtype(in.dtype) + ")";
      case OpId::MaxPool2D:
      case OpId::AvgPool2D:
      case OpId::MaxPool2DGrad:
      case OpId::MaxPool2DGradGrad: return name + "(" + a + ", " + window() + ")";
      case OpId::AvgPool2DGrad: return "avg_pool2d_grad(" + shape_arg(in.shape) + ", " + a + ", " + window() + ")";
      case OpId::Reshape: return "reshape(" + a + ", std::vector<int64_t>" + shape(in.shape, in.b0) + ")";
      case OpId::Transpose: return "transpose(" + a + ", " + list(in.ints) + ")";
      case OpId::BroadcastTo: return "broadcast_to(" + a + ", " + shape_arg(in.shape) + ")";
      case OpId::Concat: return "concat({" + a + "}, " + std::to_string(in.ints[0]) + ")";
      case OpId::Slice: {
        std::vector<int64_t> size;
        for (const Dim& d : in.shape) size.push_back(d.symbolic() ? -1 : d.coef);
        return "slice(" + a + ", " + list(in.ints) + ", " + list(size) + ")";
      }
      case OpId::UnsortedSegmentSum: return "unsorted_segment_sum(" + a + ", " + std::to_string(in.ints[0]) + ")";
      case OpId::OneHot:
        return "one_hot(" + a + ", " + std::to_string(in.ints[0]) + ", " + number(in.f0) + ", " + number(in.f1) + ", " +
               cpp_dtype(in.dtype) + ")";
      case OpId::Fill: return "fill(" + shape_arg(in.shape) + ", " + number(in.f0) + ", " + cpp_dtype(in.dtype) + ")";
      case OpId::RandomNormal:
      case OpId::TruncatedNormal:
      case OpId::RandomUniform:
        return name + "(" + shape_arg(in.shape) + ", " + number(in.f0) + ", " + number(in.f1) + ", " + cpp_dtype(in.dtype) + ", &gen)";
      case OpId::Assign:
      case OpId::AssignAdd:
      case OpId::AssignSub: return name + "(" + var(in.in[0]) + ", " + args(in, 1) + ")";
      default: return name + "(" + a + ")";
    }
  }

  void block(const Block& b, int indent, const std::vector<Tensor>& consts) {
    const std::string pad(static_cast<size_t>(indent), ' ');
    for (const Instr& in : b.instrs) {
      switch (in.kind) {
        case InstrKind::Op: os_ << pad << "Tensor " << var(in.out[0]) << " = " << call(in) << ";\n"; break;
        case InstrKind::Const: os_ << pad << "Tensor " << var(in.out[0]) << " = " << const_name(in.out[0]) << ";\n"; break;
        case InstrKind::Cond:
        case InstrKind::While: {
          const bool is_cond = in.kind == InstrKind::Cond;
          const std::string r = "r" + std::to_string(in.out[0]);
          if (is_cond) {
            os_ << pad << "std::vector<Tensor> " << r << " = cond(" << var(in.in[0]) << ",\n";
          } else {
            os_ << pad << "std::vector<Tensor> " << r << " = while_loop(\n";
          }
          for (size_t k = 0; k < in.blocks.size(); ++k) {
            const Block& inner = in.blocks[k];
            if (is_cond) {
              os_ << pad << "    [&] {\n";
            } else {
              os_ << pad << "    [&](const std::vector<Tensor>& loop) {\n";
              for (size_t q = 0; q < inner.params.size(); ++q)
                os_ << pad << "      Tensor " << var(inner.params[q]) << " = loop[" << q << "];\n";
            }
            block(inner, indent + 6, consts);
            if (!is_cond && k == 0) {
              os_ << pad << "      return " << var(inner.results.at(0)) << ";\n";
            } else {
              os_ << pad << "      return std::vector<Tensor>{";
              for (size_t q = 0; q < inner.results.size(); ++q) os_ << (q ? ", " : "") << var(inner.results[q]);
              os_ << "};\n";
            }
            os_ << pad << "    }" << (k + 1 < in.blocks.size() || !is_cond ? "," : ");") << "\n";
          }
          if (!is_cond) os_ << pad << "    std::vector<Tensor>{" << args(in) << "});\n";
          for (size_t q = 0; q < in.out.size(); ++q) os_ << pad << "Tensor " << var(in.out[q]) << " = " << r << "[" << q << "];\n";
          break;
        }
      }
    }
  }

  std::string const_name(int id) const { return "c" + std::to_string(id); }

  std::string text(const std::vector<std::vector<Tensor>>& call_args, const std::vector<Tensor>& initial_vars,
                   const std::vector<std::pair<int, Tensor>>& consts) {
    os_ << "// Fuzz program " << p_.seed << " as C++: the step eagerly and under kiln::function, call by call.\n";
    os_ << "TEST(FuzzRepro, Program" << p_.seed << ") {\n";
    for (size_t k = 0; k < p_.variables.size(); ++k) {
      const bool trainable = p_.values[static_cast<size_t>(p_.variables[k])].role == Role::Variable;
      os_ << "  const Tensor " << var(p_.variables[k]) << "_init = " << literal(initial_vars[k]) << ";\n";
      os_ << "  Variable " << var(p_.variables[k]) << "(" << var(p_.variables[k]) << "_init, " << (trainable ? "true" : "false")
          << ");\n";
    }
    for (const auto& [id, t] : consts) os_ << "  const Tensor " << const_name(id) << " = " << literal(t) << ";\n";
    // One optimizer per mode (its slots and step count are state), one step maker.
    const OptimizerSpec& o = p_.optimizer;
    if (o.kind == OptimizerKind::SGD)
      os_ << "  optim::SGD eager_opt({.learning_rate = " << number(o.learning_rate) << ", .momentum = " << number(o.momentum)
          << ", .nesterov = " << (o.nesterov ? "true" : "false") << "}), compiled_opt(eager_opt.options());\n";
    if (o.kind == OptimizerKind::Adam)
      os_ << "  optim::Adam eager_opt({.learning_rate = " << number(o.learning_rate) << ", .epsilon = " << number(o.epsilon)
          << "}), compiled_opt(eager_opt.options());\n";
    os_ << "  Generator gen(1);\n";
    os_ << "  auto make_step = [&](" << (o.kind == OptimizerKind::None ? "" : "optim::Optimizer* opt") << ") {\n";
    os_ << "   return [&" << (o.kind == OptimizerKind::None ? "" : ", opt") << "](";
    for (size_t k = 0; k < p_.inputs.size(); ++k) os_ << (k ? ", " : "") << "const Tensor& " << var(p_.inputs[k]);
    os_ << ") {\n";
    for (int c = 0; c < p_.num_classes(); ++c)
      for (int id : p_.inputs) {
        const Dims& dims = p_.values[static_cast<size_t>(id)].dims;
        auto it = std::find_if(dims.begin(), dims.end(), [c](const Dim& d) { return d.cls == c; });
        if (it == dims.end()) continue;
        os_ << "    const int64_t " << (c == 0 ? "N" : "M") << " = " << var(id) << (p_.reads_sizes ? ".dim(" : ".shape().sym(")
            << (it - dims.begin()) << ");\n";
        break;
      }
    if (p_.loss >= 0) os_ << "    GradientTape tape;\n";
    for (int id : p_.grad_sources)
      if (p_.values[static_cast<size_t>(id)].role == Role::Input) os_ << "    tape.watch(" << var(id) << ");\n";
    block(p_.body, 4, {});
    if (p_.loss >= 0) {
      os_ << "    std::vector<Tensor> g = tape.gradient(" << var(p_.loss) << ", {";
      for (size_t k = 0; k < p_.grad_sources.size(); ++k) os_ << (k ? ", " : "") << var(p_.grad_sources[k]);
      os_ << "}, {}, UnconnectedGradients::Zero);\n";
      for (size_t k = 0; k < p_.grads.size(); ++k) os_ << "    Tensor " << var(p_.grads[k]) << " = g[" << k << "];\n";
      if (o.kind != OptimizerKind::None) {
        std::string grads, vars;
        for (size_t k = 0; k < p_.grad_sources.size(); ++k)
          if (p_.values[static_cast<size_t>(p_.grad_sources[k])].role == Role::Variable) {
            grads += (grads.empty() ? "" : ", ") + var(p_.grads[k]);
            vars += (vars.empty() ? "" : ", ") + var(p_.grad_sources[k]);
          }
        if (!vars.empty()) os_ << "    opt->apply_gradients({" << grads << "}, {" << vars << "});\n";
      }
    }
    block(p_.post, 4, {});
    os_ << "    return std::vector<Tensor>{";
    for (size_t k = 0; k < p_.outputs.size(); ++k) os_ << (k ? ", " : "") << var(p_.outputs[k]);
    os_ << "};\n   };\n  };\n";
    const bool has_opt = o.kind != OptimizerKind::None;
    os_ << "  auto step = make_step(" << (has_opt ? "&eager_opt" : "") << ");\n";
    os_ << "  auto compiled = kiln::function(make_step(" << (has_opt ? "&compiled_opt" : "") << "), {.input_signature = {";
    const std::vector<std::vector<int64_t>> sig = p_.signature();
    for (size_t k = 0; k < p_.inputs.size(); ++k)
      os_ << (k ? ", " : "") << "TensorSpec{" << list(sig[k]) << ", " << cpp_dtype(p_.values[static_cast<size_t>(p_.inputs[k])].dtype)
          << "}";
    os_ << "}});\n";
    for (size_t c = 0; c < call_args.size(); ++c) {
      os_ << "  {  // call " << c << "\n";
      for (size_t k = 0; k < call_args[c].size(); ++k) os_ << "    const Tensor a" << k << " = " << literal(call_args[c][k]) << ";\n";
      std::string a;
      for (size_t k = 0; k < call_args[c].size(); ++k) a += (k ? ", " : "") + std::string("a") + std::to_string(k);
      for (int id : p_.variables) os_ << "    " << var(id) << ".assign(" << var(id) << "_init);\n";
      os_ << "    std::vector<Tensor> got = compiled(" << a << ");\n";
      os_ << "    for (Tensor& t : got) t = t.clone();\n";
      for (int id : p_.variables) os_ << "    Tensor " << var(id) << "_compiled = " << var(id) << ".clone();\n";
      for (int id : p_.variables) os_ << "    " << var(id) << ".assign(" << var(id) << "_init);\n";
      os_ << "    std::vector<Tensor> want = step(" << a << ");\n";
      os_ << "    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(test::tensors_match(got[k], want[k])) << \"call " << c
          << ", output \" << k;\n";
      for (int id : p_.variables)
        os_ << "    EXPECT_TRUE(test::tensors_match(" << var(id) << "_compiled, " << var(id) << ")) << \"call " << c << ", variable "
            << var(id) << "\";\n";
      os_ << "  }\n";
    }
    os_ << "  EXPECT_EQ(compiled.explain().find(\"compiling failed\"), std::string::npos) << compiled.explain();\n";
    os_ << "}\n";
    return os_.str();
  }

 private:
  const Program& p_;
  std::ostringstream os_;
};

void consts_in(const Block& b, std::vector<std::pair<int, Tensor>>& out, const Program& p) {
  for (const Instr& in : b.instrs) {
    if (in.kind == InstrKind::Const) out.emplace_back(in.out[0], constant_value(p, in));
    for (const Block& inner : in.blocks) consts_in(inner, out, p);
  }
}

}  // namespace

std::string program_cpp(const Program& p, int calls) {
  std::vector<std::vector<Tensor>> call_args;
  for (int c = 0; c < calls && c < static_cast<int>(p.call_sizes.size()); ++c) call_args.push_back(call_arguments(p, c));
  World w(p);
  std::vector<Tensor> initial;
  for (const Variable& v : w.variables) initial.push_back(v.clone());
  std::vector<std::pair<int, Tensor>> consts;
  consts_in(p.body, consts, p);
  consts_in(p.post, consts, p);
  return CppWriter(p).text(call_args, initial, consts);
}

}  // namespace kiln::fuzz
