// The iris training step's one-off cost under kiln::function (its per-step cases are registered
// Google Benchmark cases in iris_bench.cc).
#pragma once

namespace kiln::bench {

/// Wall time, in milliseconds, of the first call of a fresh kiln::function around the iris step
/// (batch 16): the trace and the compile (or the disk compile cache's load, as $KILN_CACHE_DIR
/// has it), plus one run of the step. Meant for a fresh process (`kiln-bench --first-call-ms`).
double iris_first_call_ms();

}  // namespace kiln::bench
