// fma_roof: the machine's FMA roof, measured on the kernel threads.
//
// Note [FMA roof]
// A step's GFLOP/s says how fast it ran; against what this machine can do at most it says how
// much is left. The most a core does is one vector FMA per port per cycle, and only when enough
// independent FMAs are in flight to hide their latency (4 cycles, 2 ports: 8 at least). Each
// kernel thread runs kChains independent accumulators on vectors of the build's width (AVX-512:
// 16 floats, AVX2 + FMA: 8, else scalar fma), so nothing but the FMA units bounds it; threads
// run on the kernel pool (kernels::parallel_for), as the GEMMs do, so the roof counts the same
// cores the step may use. Float32, as the CNN step. The best of 5 rounds, since this machine is
// shared: a descheduled thread only lowers a round.
#include "tools/kiln_bench/fma_roof.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/parallel_for.h"

namespace kiln::bench {
namespace {

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
Vec splat(float x) { return _mm512_set1_ps(x); }
Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
float lane_sum(Vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__FMA__) && defined(__AVX__)
using Vec = __m256;
constexpr int kLanes = 8;
Vec splat(float x) { return _mm256_set1_ps(x); }
Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
float lane_sum(Vec v) {
  alignas(32) float f[8];
  _mm256_store_ps(f, v);
  float s = 0;
  for (float x : f) s += x;
  return s;
}
#else
using Vec = float;
constexpr int kLanes = 1;
Vec splat(float x) { return x; }
Vec fma(Vec a, Vec b, Vec c) { return std::fma(a, b, c); }
float lane_sum(Vec v) { return v; }
#endif

constexpr int kChains = 12;

// kChains * iterations vector FMAs; the sum keeps them from being optimized away.
float fma_chains(int64_t iterations) {
  Vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = splat(1.0f + 0.001f * static_cast<float>(c));
  const Vec scale = splat(0.9999999f), shift = splat(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = fma(acc[c], scale, shift);
  float s = 0;
  for (int c = 0; c < kChains; ++c) s += lane_sum(acc[c]);
  return s;
}

}  // namespace

double fma_roof_gflops() {
  const int threads = kernels::num_threads();
  constexpr int64_t kIterations = int64_t{10} << 20;  // ~50 ms a thread at ~2 vector FMAs a cycle
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    std::vector<float> sums(static_cast<size_t>(threads));
    const auto start = std::chrono::steady_clock::now();
    kernels::parallel_for(threads, [&](int64_t t) { sums[static_cast<size_t>(t)] = fma_chains(kIterations); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double flops = 2.0 * kLanes * kChains * static_cast<double>(kIterations) * threads;
    if (std::all_of(sums.begin(), sums.end(), [](float s) { return std::isfinite(s); }))
      best = std::max(best, flops / seconds / 1e9);
  }
  return best;
}

}  // namespace kiln::bench
