// The differential fuzzer's random programs: a typed op list over Kiln's op table (with
// kiln::cond / kiln::while_loop blocks), data that can be generated from a seed, printed, run
// eagerly or under kiln::function, and minimized.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/core/op_def.h"
#include "kiln/ops.h"
#include "kiln/optim/adam.h"
#include "kiln/optim/sgd.h"

namespace kiln::fuzz {

/// One dimension of a value's shape: the constant `coef`, or `coef` times the size of the
/// -1 dim class `cls` (N for class 0, M for class 1) of the call.
struct Dim {
  int64_t coef = 1;
  int cls = -1;
  bool symbolic() const { return cls >= 0; }
  bool operator==(const Dim& o) const { return coef == o.coef && cls == o.cls; }
  bool operator!=(const Dim& o) const { return !(*this == o); }
};
using Dims = std::vector<Dim>;

/// The concrete size of `d` for a call whose -1 dim classes have `sizes`.
int64_t size_of(const Dim& d, const std::vector<int64_t>& sizes);
Shape shape_of(const Dims& dims, const std::vector<int64_t>& sizes);
/// `[N,4]`, `[2M,3]`.
std::string dims_str(const Dims& dims);

enum class Role : uint8_t {
  Computed,       ///< the result of an instruction
  Input,          ///< a kiln::function argument
  Variable,       ///< a trainable Variable (the tape watches it, the optimizer updates it)
  StateVariable,  ///< a non-trainable Variable written by assign ops
  BlockParam,     ///< a while_loop variable inside its cond or body block
};

// Note [Fuzzer value bounds]
// Every value carries bounds [lo, hi] on its elements, from interval arithmetic over the ops,
// and whether it is exact: computed without any rounding (grid inputs and variables, sums and
// products of them while they fit the mantissa). The generator uses both to keep programs well
// conditioned, so that eager and compiled code, which round differently (fused loops, FMA,
// another summation order, vectorized exp), can be compared with tight tolerances:
//   - log, sqrt, rsqrt, a divisor and pow's base get operands with lo >= 0.25 (adapters insert
//     square(x) + c, exp or sigmoid + c when needed); exp gets hi <= 3; magnitudes above 64
//     are scaled down by a power of two (exact);
//   - ops that are discontinuous in a float operand (relu, abs, maximum, minimum, comparisons,
//     reduce_max, argmax, max pooling, relu_grad's x, float -> int casts) take exact operands,
//     or bounds that keep clear of the discontinuity: one rounding difference must not flip a
//     branch, a mask or an index, which no tolerance could absorb.
struct ValueInfo {
  DType dtype = DType::Float32;
  Dims dims;
  double lo = 0, hi = 0;
  bool exact = false;
  int frac_bits = 0;     ///< exact floats: multiples of 2^-frac_bits
  bool watched = false;  ///< depends on a trainable variable or a watched input (recorded on the tape)
  Role role = Role::Computed;
  uint64_t init_seed = 0;  ///< inputs, variables: where their values come from
};

enum class InstrKind : uint8_t {
  Op,     ///< one public op (the `op` row of the table)
  Const,  ///< a host tensor captured by the trace (constant dims only)
  Cond,   ///< kiln::cond(in[0], blocks[0], blocks[1])
  While,  ///< kiln::while_loop(blocks[0] (cond), blocks[1] (body), in)
};

struct Block;

/// One instruction: results `out` from operands `in`; attributes as the op reads them.
struct Instr {
  InstrKind kind = InstrKind::Op;
  OpId op = OpId::Add;
  std::vector<int> in;
  std::vector<int> out;
  std::vector<int64_t> ints;  ///< axes, perm, begin, strides, ksize, ...
  Dims shape;                 ///< shape attributes: reshape target, slice size, fill / random shape, input_shape
  bool b0 = false, b1 = false;
  double f0 = 0, f1 = 0;
  DType dtype = DType::Float32;
  std::vector<Block> blocks;
};

/// A list of instructions; `params` are its arguments (a while_loop's variables), `results`
/// what it yields (cond branches, loop cond: one bool, loop body: the new loop variables).
struct Block {
  std::vector<int> params;
  std::vector<Instr> instrs;
  std::vector<int> results;
};

enum class OptimizerKind : uint8_t { None, SGD, Adam };
struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::None;
  double learning_rate = 0.01;
  double momentum = 0;  ///< SGD
  bool nesterov = false;
  double epsilon = 1e-3;  ///< Adam
};

/// A random program: inputs and variables, a body recorded on a GradientTape, the gradient of
/// `loss` with respect to `grad_sources`, an optimizer step on the trainable variables, then
/// `post` (which reads the updated variables), returning `outputs`.
struct Program {
  uint64_t seed = 0;
  std::vector<ValueInfo> values;
  std::vector<int> inputs;
  std::vector<int> variables;  ///< trainable and state variables
  Block body;
  int loss = -1;  ///< -1: no tape
  std::vector<int> grad_sources;
  std::vector<int> grads;  ///< one value per grad source
  OptimizerSpec optimizer;
  Block post;
  std::vector<int> outputs;
  /// Per call, the size of each -1 dim class: call 0 and 1 share sizes (a first and a second
  /// call), each later call changes one class.
  std::vector<std::vector<int64_t>> call_sizes;
  /// Note [Fuzzer size reads]: whether the program reads the -1 dims as numbers (Tensor::dim,
  /// as code that computes with sizes does: kiln::function then traces each size apart) rather
  /// than symbolically (Shape::sym, dim_mul: one trace and one compile for every size).
  bool reads_sizes = false;
  /// Note [Capped loops]: whether each while_loop also stops after kMaxLoopTrips trips (the
  /// minimizer's candidates, whose edits can turn a loop's bound into a runaway).
  bool cap_loop_trips = false;
  static constexpr int64_t kMaxLoopTrips = 1000;

  int num_classes() const { return call_sizes.empty() ? 0 : static_cast<int>(call_sizes[0].size()); }
  /// Whether value `id` is a Variable (trainable or state): printed @id, not %id.
  bool is_variable(int id) const {
    const Role r = values.at(static_cast<size_t>(id)).role;
    return r == Role::Variable || r == Role::StateVariable;
  }
  /// The signature the compiled function gets: -1 where an input dim is symbolic.
  std::vector<std::vector<int64_t>> signature() const;
  /// How many random numbers draws (Generator::next_seed calls) one run of the program makes.
  int random_draws() const;
};

/// Generates the program of `seed`: 3-15 ops over the whole op table.
Program generate_program(uint64_t seed);

/// The program as text, one instruction a line: `%5 = matmul(%0, @2) transpose_b`.
std::string program_text(const Program& p);

/// The program as a GoogleTest case: the arguments of its first `calls` calls and its variables as
/// literals, the step eagerly and under kiln::function, compared (a reproducer for a finding).
std::string program_cpp(const Program& p, int calls);

/// Kiln op table names the program calls directly (not counting gradients and optimizers).
std::vector<std::string> ops_called(const Program& p);

/// The state one run of a program reads and writes: its variables, optimizer and generator.
/// Two worlds built from one program start equal.
struct World {
  explicit World(const Program& p);
  std::vector<Variable> variables;  ///< by position in Program::variables
  std::unique_ptr<optim::Optimizer> optimizer;
  Generator generator{0};
  /// The optimizer's slot variables (momentum, m, v), for syncing and comparing worlds.
  std::vector<Variable> slots() const;
  /// Sets every variable back to its initial value.
  void reset_variables(const Program& p) const;
};

/// The arguments of call `call`: deterministic values within each input's bounds.
std::vector<Tensor> call_arguments(const Program& p, int call);

/// The value of a Const instruction of `p`.
Tensor constant_value(const Program& p, const Instr& in);

/// Runs the program on `args` with `world`'s state: eagerly, or (inside kiln::function) as the
/// trace. Returns the program's outputs.
std::vector<Tensor> execute(const Program& p, World& world, const std::vector<Tensor>& args);

}  // namespace kiln::fuzz
