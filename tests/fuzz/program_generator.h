// The fuzz program generator's state and its op families (program_generator.cc builds the
// program's frame, values and control flow; generator_ops.cc the ops of the table).
#pragma once
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "tests/fuzz/program.h"

namespace kiln::fuzz {

/// Builds one well-typed program from a seed: every value's dims, bounds and exactness are
/// tracked (Note [Fuzzer value bounds]), so every op it emits is valid at every call's sizes.
class ProgramGenerator {
 public:
  explicit ProgramGenerator(uint64_t seed);
  Program generate();

  // ---- Randomness ----
  uint64_t next() { return rng_(); }
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool coin(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v.at(static_cast<size_t>(uniform(0, static_cast<int>(v.size()) - 1))); }

  // ---- Values ----
  ValueInfo& info(int id) { return p_.values.at(static_cast<size_t>(id)); }
  DType float_dtype() const { return float_dtype_; }
  /// A visible value accepted by `ok` (recent ones preferred), or -1.
  int find(const std::function<bool(const ValueInfo&)>& ok);
  /// Whether a discontinuous op may take `v` (Note [Fuzzer value bounds]).
  bool kink_safe(const ValueInfo& v) const;
  /// Fills in exactness of a float result from its operands: exact when all are and the
  /// result's grid (`frac_bits`) and magnitude fit the mantissa.
  void set_exact(ValueInfo& out, bool operands_exact, int frac_bits) const;
  /// The smallest and largest size a dim takes over the calls.
  int64_t min_size(const Dim& d) const;
  int64_t max_size(const Dim& d) const;
  int64_t max_count(const Dims& dims) const;

  // ---- Emitting ----
  /// Appends `in` to the current block with one result described by `out`; returns its id.
  int emit(Instr in, ValueInfo out);
  /// Appends an instruction with several results.
  std::vector<int> emit_multi(Instr in, const std::vector<ValueInfo>& outs);
  int emit_op(OpId op, std::vector<int> args, ValueInfo out);
  bool budget_left() const { return emitted_ < budget_; }
  bool in_region() const { return region_depth_ > 0; }
  bool unwatched_only() const { return unwatched_only_; }

  // ---- Adapters (each may emit ops) ----
  /// A scalar or shaped constant through the `fill` op.
  int fill(const Dims& dims, double value, DType dtype);
  /// A host tensor captured by the trace: grid values within [lo, hi] (constant dims).
  int constant(const Dims& dims, DType dtype, double lo, double hi, int frac_bits);
  /// `v` scaled down by a power of two (or, for integers, divided) until |v| <= limit.
  int bounded(int v, double limit);
  /// `v` made positive with lo >= 0.25 (square + c, exp, sigmoid + c).
  int positive(int v);
  /// A value whose dims broadcast against `dims` to exactly `dims` (existing, or a fill, a
  /// constant, a reduction of `like` with keepdims, or a new variable).
  int partner(const Dims& dims, DType dtype, int like, bool need_exact);
  /// A trainable variable of `dims` (constant) with grid values in [-1, 1]; -1 when no more may be made.
  int variable(const Dims& dims);
  /// An exact integer scalar in [0, 3] computed from the data (a loop bound), or -1.
  int data_dependent_count();
  /// A scalar bool computed exactly from the data (a cond predicate), or -1.
  int data_dependent_predicate();

  // ---- Op families (generator_ops.cc); each returns false when it found nothing to apply to ----
  bool unary();
  bool binary();
  bool compare_where();
  bool cast_op();
  bool relu_grad_op();
  bool softmax_op();
  bool cross_entropy();
  bool matmul_op();
  bool conv();
  bool pool();
  bool reduction();
  bool reshape_op();
  bool transpose_op();
  bool broadcast_to_op();
  bool concat_op();
  bool slice_op();
  bool gather_op();
  bool segment_sum();
  bool one_hot_op();
  bool random_op();
  bool assign_op();
  bool cond_op();
  bool while_op();
  /// `op` (a unary elementwise op) on `v`, with the adapters its domain needs; -1 when `v`
  /// may not take it (a discontinuous op on an inexact value).
  int apply_unary(OpId op, int v);
  /// `op` (a binary elementwise op) on `a` and `b`, which broadcast; the divisor, pow's base and
  /// exponent are adapted first; -1 when the operands may not take it.
  int apply_binary(OpId op, int a, int b);
  /// A shape-preserving op on `v` (unary, binary with a partner, softmax): its result's dims
  /// and dtype are `v`'s.
  int preserve(int v);

 private:
  void make_inputs();
  int make_input(Dims dims, DType dtype, double lo, double hi, int frac_bits);
  void body_ops(int count);
  bool one_op();
  void make_loss_and_step();
  void make_post();
  void choose_outputs();
  void enter_region();
  void leave_region();

  std::mt19937_64 rng_;
  Program p_;
  DType float_dtype_ = DType::Float32;
  std::vector<Block*> blocks_;               // the block being filled is the last
  std::vector<std::vector<int>> scopes_;     // visible values per nesting level
  int region_depth_ = 0;
  bool post_ = false;  // emitting post: variables read their updated values
  bool unwatched_only_ = false;
  int emitted_ = 0, budget_ = 0;
  int label_classes_ = 0;  // labels inputs hold [0, label_classes_)
 public:
  /// Opens a block (a cond branch, a loop's cond or body) for emitting; values made inside are
  /// visible only there. `unwatched`: only values off the tape may be read (while_loop).
  class Region {
   public:
    Region(ProgramGenerator& g, Block& b, bool unwatched);
    ~Region();
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
    /// A block parameter (loop variable) of `like`'s type.
    int param(const ValueInfo& like);

   private:
    ProgramGenerator& g_;
    Block& b_;
    bool was_unwatched_;
  };
};

/// numpy broadcasting of two dims lists; nullopt when they do not broadcast at every size.
std::optional<Dims> broadcast_dims(const Dims& a, const Dims& b);
/// The element bound max(|lo|, |hi|).
inline double magnitude(const ValueInfo& v) { return std::max(std::abs(v.lo), std::abs(v.hi)); }

}  // namespace kiln::fuzz
