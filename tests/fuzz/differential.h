// The differential fuzzer: runs a fuzz program eagerly and under kiln::function (a first call, a
// second call, a call at another size of each -1 dim), compares outputs, gradients, updated
// variables and optimizer slots, and minimizes programs that differ.
#pragma once
#include <functional>
#include <string>

#include "tests/fuzz/program.h"

namespace kiln::fuzz {

// Note [Fuzzer tolerances]
// Eager kernels and compiled code compute the same math with different rounding: fused loops,
// FMA contraction, other summation orders and blockings (GEMM, convolutions, reductions), and
// other approximations of exp, log, tanh (Eigen's vectorized functions against MLIR's math
// expansions). Each costs a few units in the last place. The generator keeps every program
// well conditioned (Note [Fuzzer value bounds]: magnitudes <= 64, no operand near a
// singularity, no discontinuity fed an inexact value), so through <= 15 ops the two runs
// agree to about 1e-6 relative in float32 and 1e-14 in float64. A wrong result (an index, a
// mask, a dim, an op, a stale variable) is off by O(1). So:
//   float32: |compiled - eager| <= 1e-4  * max(|eager|, 1)
//   float64: |compiled - eager| <= 1e-10 * max(|eager|, 1)
//   integers and bool: equal.
// The floor of 1 is the absolute part: a value near zero that comes from cancellation carries
// the rounding of its operands (bounded by 64), not of itself. A program that computes anything
// in float32 compares its float64 results with float32's tolerance too (a float32 value cast to
// float64 carries float32's rounding). NaN equals NaN (both runs took the log of the same
// negative number), and nothing else. Over 1,500 programs the largest error on a match was
// 0.009 of its tolerance.
double relative_tolerance(DType dtype);

/// How one program's differential run ended.
enum class Verdict {
  Match,           ///< every call agreed
  Mismatch,        ///< a value differed beyond tolerance
  CompiledError,   ///< the compiled function threw (or failed to compile) where eager ran
  InvalidProgram,  ///< eager threw: a generator bug, not a finding
};
const char* verdict_name(Verdict v);

struct Outcome {
  Verdict verdict = Verdict::Match;
  std::string detail;          ///< what differed, at which call, eager and compiled values
  bool interpreted = false;    ///< some call ran on the interpreter, not compiled code (explain says why)
  bool per_size = false;       ///< the trace depended on the -1 dims' sizes: code compiled per size
  int compiles = 0;            ///< JIT compiles (kiln::function::compile_count)
  double worst_ratio = 0;      ///< largest |compiled - eager| / tolerance seen (< 1 on a match)
  std::string explain;         ///< the compiled function's explain()
};

/// Runs `p` eagerly and compiled at each of its calls and compares them (Note [Fuzzer tolerances]).
/// `traced`, when given, is what kiln::function traces instead of `p` (the same inputs and
/// variables): tests plant a miscompilation through it.
Outcome run_differential(const Program& p, const Program* traced = nullptr);

/// The smallest program derived from `p` (fewer outputs, instructions, inputs, variables, no
/// optimizer, no tape, no -1 dims) on which `fails` still holds.
Program minimize(const Program& p, const std::function<bool(const Program&)>& fails);

/// Counts the instructions of `p` (blocks included).
int instruction_count(const Program& p);

}  // namespace kiln::fuzz
