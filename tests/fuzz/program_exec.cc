// Running a fuzz program: its arguments and variables' values, its worlds (variables, optimizer,
// generator), and the interpreter that calls Kiln's public ops, eagerly or inside a trace.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "kiln/control_flow.h"
#include "kiln/kiln.h"
#include "tests/fuzz/program.h"

namespace kiln::fuzz {

int64_t size_of(const Dim& d, const std::vector<int64_t>& sizes) {
  return d.symbolic() ? d.coef * sizes.at(static_cast<size_t>(d.cls)) : d.coef;
}

Shape shape_of(const Dims& dims, const std::vector<int64_t>& sizes) {
  Shape s;
  for (const Dim& d : dims) s.push_back(size_of(d, sizes));
  return s;
}

std::string dims_str(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    const Dim& d = dims[i];
    if (i) s += ",";
    if (!d.symbolic()) s += std::to_string(d.coef);
    else s += (d.coef == 1 ? "" : std::to_string(d.coef)) + (d.cls == 0 ? "N" : "M");
  }
  return s + "]";
}

std::vector<std::vector<int64_t>> Program::signature() const {
  std::vector<std::vector<int64_t>> sig;
  for (int id : inputs) {
    std::vector<int64_t> dims;
    for (const Dim& d : values[static_cast<size_t>(id)].dims) dims.push_back(d.symbolic() ? -1 : d.coef);
    sig.push_back(dims);
  }
  return sig;
}

namespace {

bool draws_random(const Instr& in) {
  return in.kind == InstrKind::Op && (in.op == OpId::RandomNormal || in.op == OpId::TruncatedNormal ||
                                      in.op == OpId::RandomUniform || in.op == OpId::Dropout);
}

// Every value a block's instructions read, nested blocks included.
void reads_of(const Block& b, std::set<int>& out) {
  for (const Instr& in : b.instrs) {
    out.insert(in.in.begin(), in.in.end());
    for (const Block& inner : in.blocks) reads_of(inner, out);
  }
  out.insert(b.results.begin(), b.results.end());
}

// Adds to `live` what the live values of `b` are computed from (walking back: SSA order).
void mark_live(const Block& b, std::set<int>& live) {
  for (auto it = b.instrs.rbegin(); it != b.instrs.rend(); ++it) {
    const bool writes = it->kind == InstrKind::Op &&
                        (it->op == OpId::Assign || it->op == OpId::AssignAdd || it->op == OpId::AssignSub);
    if (!writes && std::none_of(it->out.begin(), it->out.end(), [&](int id) { return live.count(id); })) continue;
    live.insert(it->in.begin(), it->in.end());
    for (const Block& inner : it->blocks) reads_of(inner, live);
  }
}

int live_draws(const Block& b, const std::set<int>& live) {
  int n = 0;
  for (const Instr& in : b.instrs) n += draws_random(in) && live.count(in.out[0]);
  return n;
}

template <typename T>
void fill_grid(T* p, int64_t n, std::mt19937_64& rng, double lo, double hi, double step) {
  std::uniform_int_distribution<int64_t> pick(static_cast<int64_t>(std::ceil(lo / step)), static_cast<int64_t>(std::floor(hi / step)));
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(static_cast<double>(pick(rng)) * step);
}
template <>
void fill_grid(bool* p, int64_t n, std::mt19937_64& rng, double, double, double) {
  for (int64_t i = 0; i < n; ++i) p[i] = (rng() & 1) != 0;
}

// Values on a grid of 2^-frac_bits within [lo, hi] (floats), or integers in [lo, hi]: exact in
// every dtype, so sums and products of a few of them are exact too (Note [Fuzzer value bounds]).
Tensor grid_values(const ValueInfo& v, const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Tensor t = Tensor::empty(shape, v.dtype);
  const double step = is_floating(v.dtype) ? std::ldexp(1.0, -v.frac_bits) : 1.0;
  KILN_DISPATCH_ALL(v.dtype, T, fill_grid(t.data<T>(), t.num_elements(), rng, v.lo, v.hi, step));
  return t;
}

// Variables start on a grid in [-1, 1] (integers in [-4, 4]); their ValueInfo's bounds also
// cover the values the program writes into them.
Tensor initial_value(const Program& p, int id) {
  ValueInfo v = p.values[static_cast<size_t>(id)];
  v.lo = is_floating(v.dtype) ? -1 : -4;
  v.hi = -v.lo;
  v.frac_bits = 4;
  return grid_values(v, shape_of(v.dims, {}), v.init_seed);
}

// Exposes the optimizers' slots (a protected accessor) so that worlds can be compared and synced.
class FuzzSGD : public optim::SGD {
 public:
  using SGD::SGD;
  using Optimizer::slot;
};
class FuzzAdam : public optim::Adam {
 public:
  using Adam::Adam;
  using Optimizer::slot;
};

std::vector<Variable> trainable_of(const Program& p, const std::vector<Variable>& vars) {
  std::vector<Variable> out;
  for (size_t k = 0; k < vars.size(); ++k)
    if (p.values[static_cast<size_t>(p.variables[k])].role == Role::Variable) out.push_back(vars[k]);
  return out;
}

std::string padding(bool same) { return same ? "same" : "valid"; }
std::array<int64_t, 2> pair(const std::vector<int64_t>& v, size_t at) { return {v.at(at), v.at(at + 1)}; }

// Runs instructions on Kiln's public ops; `env` holds every value by id.
class Interpreter {
 public:
  Interpreter(const Program& p, World& w, const std::vector<Tensor>& args)
      : p_(p), w_(w), env_(p.values.size()), class_dims_(static_cast<size_t>(p.num_classes()), 0) {
    for (size_t k = 0; k < p.inputs.size(); ++k) {
      const int id = p.inputs[k];
      env_[static_cast<size_t>(id)] = args.at(k);
      // Note [Fuzzer size reads]: the -1 dims come from the arguments' shapes, as user code reads
      // them: symbolically (Shape::sym: a trace stays valid for every size), or as numbers
      // (Tensor::dim: each size gets a trace of its own, guarded).
      const Dims& dims = p.values[static_cast<size_t>(id)].dims;
      for (size_t i = 0; i < dims.size(); ++i)
        if (dims[i].symbolic())
          class_dims_[static_cast<size_t>(dims[i].cls)] =
              p.reads_sizes ? args[k].dim(static_cast<int>(i)) : args[k].shape().sym(static_cast<int>(i));
    }
    for (size_t k = 0; k < p.variables.size(); ++k) {
      env_[static_cast<size_t>(p.variables[k])] = w.variables[k];
      variable_of_[p.variables[k]] = k;
    }
  }

  std::vector<Tensor> run() {
    std::vector<Tensor> sources;
    {
      std::unique_ptr<GradientTape> tape;
      if (p_.loss >= 0) {
        tape = std::make_unique<GradientTape>();
        for (int id : p_.grad_sources)
          if (p_.values[static_cast<size_t>(id)].role == Role::Input) tape->watch(at(id));
      }
      block(p_.body);
      if (tape) {
        for (int id : p_.grad_sources) sources.push_back(at(id));
        std::vector<Tensor> g = tape->gradient(at(p_.loss), sources, {}, UnconnectedGradients::Zero);
        for (size_t k = 0; k < g.size(); ++k) env_[static_cast<size_t>(p_.grads[k])] = g[k];
      }
    }
    if (p_.optimizer.kind != OptimizerKind::None && p_.loss >= 0) {
      std::vector<Tensor> grads;
      std::vector<Variable> vars;
      for (size_t k = 0; k < p_.grad_sources.size(); ++k) {
        auto it = variable_of_.find(p_.grad_sources[k]);
        if (it == variable_of_.end()) continue;
        vars.push_back(w_.variables[it->second]);
        grads.push_back(at(p_.grads[k]));
      }
      if (!vars.empty()) w_.optimizer->apply_gradients(grads, vars);
    }
    block(p_.post);
    std::vector<Tensor> out;
    for (int id : p_.outputs) out.push_back(at(id));
    return out;
  }

 private:
  const Tensor& at(int id) const {
    const Tensor& t = env_.at(static_cast<size_t>(id));
    KILN_ASSERT(t.defined(), "a fuzz program reads a value before it is computed");
    return t;
  }
  const Variable& variable(int id) const { return w_.variables.at(variable_of_.at(id)); }
  // `dims` as the program's code builds them from the -1 dims it read (symbolic or sizes).
  std::vector<int64_t> dim_values(const Dims& dims) const {
    std::vector<int64_t> v;
    for (const Dim& d : dims) v.push_back(d.symbolic() ? dim_mul(d.coef, class_dims_.at(static_cast<size_t>(d.cls))) : d.coef);
    return v;
  }
  Shape shape(const Dims& dims) const { return Shape::of_dims(dim_values(dims)); }

  void block(const Block& b) {
    for (const Instr& in : b.instrs) instr(in);
  }
  std::vector<Tensor> results(const Block& b) {
    block(b);
    std::vector<Tensor> r;
    for (int id : b.results) r.push_back(at(id));
    return r;
  }
  void bind(const Block& b, const std::vector<Tensor>& vals) {
    for (size_t k = 0; k < b.params.size(); ++k) env_[static_cast<size_t>(b.params[k])] = vals.at(k);
  }

  void instr(const Instr& in) {
    switch (in.kind) {
      case InstrKind::Const: env_[static_cast<size_t>(in.out[0])] = constant_value(p_, in); return;
      case InstrKind::Cond: {
        std::vector<Tensor> r = kiln::cond(at(in.in[0]), [&] { return results(in.blocks[0]); },
                                           [&] { return results(in.blocks[1]); });
        for (size_t k = 0; k < in.out.size(); ++k) env_[static_cast<size_t>(in.out[k])] = r.at(k);
        return;
      }
      case InstrKind::While: {
        // Note [Capped loops]
        // A minimizer candidate may turn a loop's bound into a runaway (an eager loop under a
        // tape keeps every trip: the suite's process grew to 24 GB). Its loops carry one more
        // variable, a trip count, and stop after Program::kMaxLoopTrips, eagerly and compiled
        // alike (cond = trips < (cond ? cap : 0), with the table's ops).
        const bool capped = p_.cap_loop_trips;
        std::vector<Tensor> init;
        for (int id : in.in) init.push_back(at(id));
        if (capped) init.push_back(Tensor::scalar(int64_t{0}));
        auto own = [&](const std::vector<Tensor>& v) {
          return capped ? std::vector<Tensor>(v.begin(), v.end() - 1) : v;
        };
        std::vector<Tensor> r = kiln::while_loop(
            [&](const std::vector<Tensor>& v) {
              bind(in.blocks[0], own(v));
              Tensor c = results(in.blocks[0]).at(0);
              if (capped)
                c = less(v.back(), where(c, Tensor::scalar(Program::kMaxLoopTrips), Tensor::scalar(int64_t{0})));
              return c;
            },
            [&](const std::vector<Tensor>& v) {
              bind(in.blocks[1], own(v));
              std::vector<Tensor> next = results(in.blocks[1]);
              if (capped) next.push_back(v.back() + Tensor::scalar(int64_t{1}));
              return next;
            },
            init);
        for (size_t k = 0; k < in.out.size(); ++k) env_[static_cast<size_t>(in.out[k])] = r.at(k);
        return;
      }
      case InstrKind::Op: env_[static_cast<size_t>(in.out[0])] = op(in); return;
    }
  }

  Tensor op(const Instr& in) {
    auto x = [&](size_t k) -> const Tensor& { return at(in.in.at(k)); };
    const std::array<int64_t, 2> strides = in.ints.size() >= 2 ? pair(in.ints, 0) : std::array<int64_t, 2>{1, 1};
    switch (in.op) {
      case OpId::Add: return add(x(0), x(1));
      case OpId::Sub: return sub(x(0), x(1));
      case OpId::Mul: return mul(x(0), x(1));
      case OpId::Div: return div(x(0), x(1));
      case OpId::Pow: return pow(x(0), x(1));
      case OpId::Maximum: return maximum(x(0), x(1));
      case OpId::Minimum: return minimum(x(0), x(1));
      case OpId::Equal: return equal(x(0), x(1));
      case OpId::NotEqual: return not_equal(x(0), x(1));
      case OpId::Less: return less(x(0), x(1));
      case OpId::Greater: return greater(x(0), x(1));
      case OpId::Where: return where(x(0), x(1), x(2));
      case OpId::Neg: return neg(x(0));
      case OpId::Exp: return exp(x(0));
      case OpId::Log: return log(x(0));
      case OpId::Sqrt: return sqrt(x(0));
      case OpId::Rsqrt: return rsqrt(x(0));
      case OpId::Square: return square(x(0));
      case OpId::Abs: return abs(x(0));
      case OpId::Relu: return relu(x(0));
      case OpId::Sigmoid: return sigmoid(x(0));
      case OpId::Tanh: return tanh(x(0));
      case OpId::ReluGrad: return relu_grad(x(0), x(1));
      case OpId::Cast: return cast(x(0), in.dtype);
      case OpId::Dropout: return dropout(x(0), in.f0, true, &w_.generator);
      case OpId::Softmax: return softmax(x(0));
      case OpId::LogSoftmax: return log_softmax(x(0));
      case OpId::SoftmaxCrossEntropy: return softmax_cross_entropy_with_logits(x(0), x(1));
      case OpId::SparseSoftmaxCrossEntropy: return sparse_softmax_cross_entropy_with_logits(x(0), x(1));
      case OpId::MatMul: return matmul(x(0), x(1), in.b0, in.b1);
      case OpId::Conv2D: return conv2d(x(0), x(1), strides, padding(in.b0));
      case OpId::Conv2DBackpropInput:
        return conv2d_backprop_input(shape(in.shape), x(0), x(1), strides, padding(in.b0));
      case OpId::Conv2DBackpropFilter:
        return conv2d_backprop_filter(x(0), shape(in.shape), x(1), strides, padding(in.b0));
      case OpId::ReduceSum: return reduce_sum(x(0), in.ints, in.b0);
      case OpId::ReduceMean: return reduce_mean(x(0), in.ints, in.b0);
      case OpId::ReduceMax: return reduce_max(x(0), in.ints, in.b0);
      case OpId::ArgMax: return argmax(x(0), in.ints.at(0), in.dtype);
      // Pooling: ints = {kh, kw, sh, sw}.
      case OpId::MaxPool2D: return max_pool2d(x(0), pair(in.ints, 0), pair(in.ints, 2), padding(in.b0));
      case OpId::AvgPool2D: return avg_pool2d(x(0), pair(in.ints, 0), pair(in.ints, 2), padding(in.b0));
      case OpId::MaxPool2DGrad:
        return max_pool2d_grad(x(0), x(1), x(2), pair(in.ints, 0), pair(in.ints, 2), padding(in.b0));
      case OpId::MaxPool2DGradGrad:
        return max_pool2d_grad_grad(x(0), x(1), x(2), pair(in.ints, 0), pair(in.ints, 2), padding(in.b0));
      case OpId::AvgPool2DGrad:
        return avg_pool2d_grad(shape(in.shape), x(0), pair(in.ints, 0), pair(in.ints, 2), padding(in.b0));
      case OpId::Reshape: {
        // b0: the first -1 dim class's dim is passed as -1 (inferred), as user code often does.
        std::vector<int64_t> target = dim_values(in.shape);
        if (in.b0)
          for (size_t i = 0; i < in.shape.size(); ++i)
            if (in.shape[i].symbolic()) {
              target[i] = -1;
              break;
            }
        return reshape(x(0), target);
      }
      case OpId::Transpose: return transpose(x(0), in.ints);
      case OpId::BroadcastTo: return broadcast_to(x(0), shape(in.shape));
      case OpId::Concat: {
        std::vector<Tensor> xs;
        for (int id : in.in) xs.push_back(at(id));
        return concat(xs, in.ints.at(0));
      }
      case OpId::Slice: {
        // A -1 dim is sliced whole ("to the end"), so the slice holds at every size.
        std::vector<int64_t> size;
        for (const Dim& d : in.shape) size.push_back(d.symbolic() ? -1 : d.coef);
        return slice(x(0), in.ints, size);
      }
      case OpId::Gather: return gather(x(0), x(1));
      case OpId::UnsortedSegmentSum: return unsorted_segment_sum(x(0), x(1), in.ints.at(0));
      case OpId::OneHot: return one_hot(x(0), in.ints.at(0), in.f0, in.f1, in.dtype);
      case OpId::Fill: return fill(shape(in.shape), in.f0, in.dtype);
      case OpId::RandomNormal: return random_normal(shape(in.shape), in.f0, in.f1, in.dtype, &w_.generator);
      case OpId::TruncatedNormal: return truncated_normal(shape(in.shape), in.f0, in.f1, in.dtype, &w_.generator);
      case OpId::RandomUniform: return random_uniform(shape(in.shape), in.f0, in.f1, in.dtype, &w_.generator);
      case OpId::Assign: return assign(variable(in.in[0]), x(1));
      case OpId::AssignAdd: return assign_add(variable(in.in[0]), x(1));
      case OpId::AssignSub: return assign_sub(variable(in.in[0]), x(1));
      case OpId::ApplyAdam: break;  // through optim::Adam only
    }
    KILN_ASSERT(false, "a fuzz instruction names an op the interpreter runs");
    return {};
  }

  const Program& p_;
  World& w_;
  std::vector<Tensor> env_;
  std::vector<int64_t> class_dims_;
  std::map<int, size_t> variable_of_;
};

}  // namespace

int Program::random_draws() const {
  // A traced graph keeps only what its results and variable writes need, so a random op whose
  // numbers nothing reads draws nothing there (eagerly it does). Random ops are kept out of
  // cond and while blocks (compiled regions cannot draw), so each run draws once per live
  // random instruction of the body and of post.
  std::set<int> live(outputs.begin(), outputs.end());
  if (loss >= 0) live.insert(loss);
  mark_live(post, live);
  mark_live(body, live);
  return live_draws(body, live) + live_draws(post, live);
}

World::World(const Program& p) {
  for (int id : p.variables) {
    const ValueInfo& v = p.values[static_cast<size_t>(id)];
    variables.emplace_back(initial_value(p, id), v.role == Role::Variable, "v" + std::to_string(id));
  }
  const OptimizerSpec& o = p.optimizer;
  if (o.kind == OptimizerKind::SGD)
    optimizer = std::make_unique<FuzzSGD>(optim::SGDOptions{o.learning_rate, o.momentum, o.nesterov});
  else
    optimizer = std::make_unique<FuzzAdam>(optim::AdamOptions{.learning_rate = o.learning_rate, .epsilon = o.epsilon});
  // Slots exist before any trace (a trace after the first may not create variables).
  optimizer->build(trainable_of(p, variables));
}

std::vector<Variable> World::slots() const {
  std::vector<Variable> out;
  for (size_t k = 0; k < variables.size(); ++k) {
    if (!variables[k].trainable()) continue;
    if (auto* sgd = dynamic_cast<FuzzSGD*>(optimizer.get()); sgd && sgd->options().momentum != 0)
      out.push_back(sgd->slot(variables[k], "momentum"));
    if (auto* adam = dynamic_cast<FuzzAdam*>(optimizer.get())) {
      out.push_back(adam->slot(variables[k], "m"));
      out.push_back(adam->slot(variables[k], "v"));
    }
  }
  return out;
}

void World::reset_variables(const Program& p) const {
  for (size_t k = 0; k < variables.size(); ++k) variables[k].assign(initial_value(p, p.variables[k]));
}

Tensor constant_value(const Program& p, const Instr& in) {
  return grid_values(p.values.at(static_cast<size_t>(in.out.at(0))), shape_of(in.shape, {}), static_cast<uint64_t>(in.ints.at(0)));
}

std::vector<Tensor> call_arguments(const Program& p, int call) {
  std::vector<Tensor> args;
  const std::vector<int64_t>& sizes = p.call_sizes.empty() ? std::vector<int64_t>{} : p.call_sizes.at(static_cast<size_t>(call));
  for (int id : p.inputs) {
    const ValueInfo& v = p.values[static_cast<size_t>(id)];
    args.push_back(grid_values(v, shape_of(v.dims, sizes), v.init_seed * 1000003 + static_cast<uint64_t>(call)));
  }
  return args;
}

std::vector<Tensor> execute(const Program& p, World& world, const std::vector<Tensor>& args) {
  return Interpreter(p, world, args).run();
}

}  // namespace kiln::fuzz
