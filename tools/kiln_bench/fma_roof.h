// fma_roof: the machine's measured FMA roof, against which kiln-bench states the CNN step's speed.
#pragma once

namespace kiln::bench {

/// GFLOP/s of fused multiply-adds on every kernel thread (kernels::num_threads()) at once: each
/// thread runs independent FMA chains on the widest vectors the build targets, held in
/// registers, for ~50 ms; the best of 5 rounds (Note [FMA roof] in fma_roof.cc).
double fma_roof_gflops();

}  // namespace kiln::bench
