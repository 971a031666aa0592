// Fuzz programs as text (one instruction a line, as failures print them) and the table ops a
// program calls.
#include <algorithm>
#include <set>
#include <sstream>

#include "tests/fuzz/program.h"

namespace kiln::fuzz {

namespace {

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

class Printer {
 public:
  explicit Printer(const Program& p) : p_(p) {}

  std::string name(int id) const { return (p_.is_variable(id) ? "@" : "%") + std::to_string(id); }
  std::string names(const std::vector<int>& ids) const {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + name(ids[i]);
    return s;
  }
  std::string type(int id) const {
    const ValueInfo& v = p_.values.at(static_cast<size_t>(id));
    return std::string(dtype_name(v.dtype)) + dims_str(v.dims);
  }

  void block(const Block& b, int indent) {
    for (const Instr& in : b.instrs) instr(in, indent);
  }

  void instr(const Instr& in, int indent) {
    const std::string pad(static_cast<size_t>(indent), ' ');
    os_ << pad << names(in.out) << " = ";
    switch (in.kind) {
      case InstrKind::Const: os_ << "constant " << type(in.out[0]) << " seed " << in.ints.at(0) << "\n"; return;
      case InstrKind::Cond:
      case InstrKind::While: {
        const bool is_cond = in.kind == InstrKind::Cond;
        os_ << (is_cond ? "cond(" : "while_loop(") << names(in.in) << ") {\n";
        for (size_t k = 0; k < in.blocks.size(); ++k) {
          const Block& b = in.blocks[k];
          os_ << pad << "  " << (is_cond ? (k == 0 ? "then" : "else") : (k == 0 ? "cond" : "body"));
          if (!b.params.empty()) os_ << "(" << names(b.params) << ")";
          os_ << ":\n";
          block(b, indent + 4);
          os_ << pad << "    yield " << names(b.results) << "\n";
        }
        os_ << pad << "}\n";
        return;
      }
      case InstrKind::Op: break;
    }
    os_ << op_def(in.op).name << "(" << names(in.in) << ")" << attrs(in) << "  : " << type(in.out[0]) << "\n";
  }

  std::string attrs(const Instr& in) const {
    const std::string padding = in.b0 ? " padding=same" : " padding=valid";
    switch (in.op) {
      case OpId::Cast: return std::string(" dtype=") + dtype_name(in.dtype);
      case OpId::Dropout: return " rate=" + number(in.f0);
      case OpId::MatMul: return std::string(in.b0 ? " transpose_a" : "") + (in.b1 ? " transpose_b" : "");
      case OpId::Conv2D: return " strides=" + ints_str(in.ints) + padding;
      case OpId::Conv2DBackpropInput:
      case OpId::Conv2DBackpropFilter: return " shape=" + dims_str(in.shape) + " strides=" + ints_str(in.ints) + padding;
      case OpId::ReduceSum:
      case OpId::ReduceMean:
      case OpId::ReduceMax: return " axes=" + ints_str(in.ints) + (in.b0 ? " keepdims" : "");
      case OpId::ArgMax: return " axis=" + std::to_string(in.ints.at(0)) + " dtype=" + dtype_name(in.dtype);
      case OpId::MaxPool2D:
      case OpId::AvgPool2D:
      case OpId::MaxPool2DGrad:
      case OpId::MaxPool2DGradGrad:
        return " ksize=" + ints_str({in.ints.at(0), in.ints.at(1)}) + " strides=" + ints_str({in.ints.at(2), in.ints.at(3)}) + padding;
      case OpId::AvgPool2DGrad:
        return " shape=" + dims_str(in.shape) + " ksize=" + ints_str({in.ints.at(0), in.ints.at(1)}) +
               " strides=" + ints_str({in.ints.at(2), in.ints.at(3)}) + padding;
      case OpId::Reshape: return " shape=" + dims_str(in.shape) + (in.b0 && std::any_of(in.shape.begin(), in.shape.end(), [](const Dim& d) { return d.symbolic(); })
                                                   ? " (-1 for the first -1 dim)"
                                                   : "");
      case OpId::Transpose: return " perm=" + ints_str(in.ints);
      case OpId::BroadcastTo: return " shape=" + dims_str(in.shape);
      case OpId::Concat: return " axis=" + std::to_string(in.ints.at(0));
      case OpId::Slice: return " begin=" + ints_str(in.ints) + " size=" + dims_str(in.shape);
      case OpId::UnsortedSegmentSum: return " num_segments=" + std::to_string(in.ints.at(0));
      case OpId::OneHot:
        return " depth=" + std::to_string(in.ints.at(0)) + " on=" + number(in.f0) + " off=" + number(in.f1);
      case OpId::Fill: return " shape=" + dims_str(in.shape) + " value=" + number(in.f0);
      case OpId::RandomNormal:
      case OpId::TruncatedNormal: return " shape=" + dims_str(in.shape) + " mean=" + number(in.f0) + " stddev=" + number(in.f1);
      case OpId::RandomUniform: return " shape=" + dims_str(in.shape) + " minval=" + number(in.f0) + " maxval=" + number(in.f1);
      default: return "";
    }
  }

  std::string text() {
    os_ << "program " << p_.seed << (p_.cap_loop_trips ? " (while_loops capped at " + std::to_string(Program::kMaxLoopTrips) + " trips)" : "") << ":";
    for (int c = 0; c < p_.num_classes(); ++c) {
      os_ << (c == 0 ? " N" : " M") << " =";
      for (const auto& sizes : p_.call_sizes) os_ << " " << sizes[static_cast<size_t>(c)];
    }
    os_ << (p_.num_classes() > 0 ? (p_.reads_sizes ? " (per call; read as numbers)" : " (per call; read symbolically)") : "")
        << "\n";
    for (int id : p_.inputs) {
      const ValueInfo& v = p_.values[static_cast<size_t>(id)];
      os_ << "  " << name(id) << " = input " << type(id) << " in [" << v.lo << ", " << v.hi << "]"
          << (is_floating(v.dtype) ? " step 2^-" + std::to_string(v.frac_bits) : "") << (v.watched ? " watched" : "") << "\n";
    }
    for (int id : p_.variables)
      os_ << "  " << name(id) << " = "
          << (p_.values[static_cast<size_t>(id)].role == Role::Variable ? "variable " : "state variable ") << type(id) << "\n";
    os_ << (p_.loss >= 0 ? "tape:\n" : "body:\n");
    block(p_.body, 2);
    if (p_.loss >= 0) {
      os_ << "loss " << name(p_.loss) << "\n";
      os_ << names(p_.grads) << " = gradient(" << name(p_.loss) << ", [" << names(p_.grad_sources) << "])\n";
    }
    const OptimizerSpec& o = p_.optimizer;
    if (o.kind == OptimizerKind::SGD)
      os_ << "SGD(lr=" << o.learning_rate << ", momentum=" << o.momentum << (o.nesterov ? ", nesterov" : "") << ")\n";
    if (o.kind == OptimizerKind::Adam) os_ << "Adam(lr=" << o.learning_rate << ", epsilon=" << o.epsilon << ")\n";
    if (!p_.post.instrs.empty()) {
      os_ << "after the update:\n";
      block(p_.post, 2);
    }
    os_ << "outputs: " << names(p_.outputs) << "\n";
    return os_.str();
  }

 private:
  const Program& p_;
  std::ostringstream os_;
};

void collect_ops(const Block& b, std::set<std::string>& ops) {
  for (const Instr& in : b.instrs) {
    if (in.kind == InstrKind::Op) {
      ops.insert(op_def(in.op).name);
      if (in.op == OpId::Dropout) ops.insert("random_uniform");  // kiln::dropout draws its mask
    }
    for (const Block& inner : in.blocks) collect_ops(inner, ops);
  }
}

}  // namespace

std::string program_text(const Program& p) { return Printer(p).text(); }

std::vector<std::string> ops_called(const Program& p) {
  std::set<std::string> ops;
  collect_ops(p.body, ops);
  collect_ops(p.post, ops);
  if (p.loss >= 0 && p.optimizer.kind == OptimizerKind::Adam) ops.insert("apply_adam");
  if (p.loss >= 0 && p.optimizer.kind == OptimizerKind::SGD) {
    if (p.optimizer.momentum == 0) ops.insert("assign_sub");
    else ops.insert({"assign", "assign_add"});
  }
  return {ops.begin(), ops.end()};
}

}  // namespace kiln::fuzz
