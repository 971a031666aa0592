// The iris training step's one-off cost under kiln::function (its per-step cases are registered
// Google Benchmark cases in iris_bench.cc).
#pragma once

namespace kiln::bench {

/// Wall time, in milliseconds, of the first call of a fresh kiln::function around the iris step
/// (batch 16): the trace and the compile, plus one run of the step. The disk compile cache
/// ($KILN_CACHE_DIR) is off meanwhile, so the compile is a real one.
double iris_first_call_ms();

}  // namespace kiln::bench
