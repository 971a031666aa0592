// The CPU kernels' threads: one pool per process that GEMM (and any kernel) spreads work over.
#pragma once
#include <cstdint>
#include <type_traits>

namespace kiln::kernels {

/// Threads the CPU kernels use, the calling thread included: parse_num_threads of the
/// environment's `KILN_NUM_THREADS` (all hardware threads when unset), read on the first call.
int num_threads();

/// The thread count a value of `KILN_NUM_THREADS` asks for: nullptr or "" give
/// std::thread::hardware_concurrency() (1 if unknown), a decimal integer in [1, 1024] gives
/// itself, anything else throws kiln::Error naming the value.
int parse_num_threads(const char* value);

/// Overrides num_threads() for the rest of the process (kiln-bench compares 1 and 2 threads).
/// Throws kiln::Error unless n >= 1.
void set_num_threads(int n);

namespace detail {
void parallel_for(int64_t count, void (*run)(void* task, int64_t i), void* task);
}

/// Runs task(i) once for every i in [0, count) and returns when all have run. Up to
/// num_threads() threads take part: the caller and the pool's workers, each claiming the next
/// index in turn, so a thread that is slow (on this shared machine: descheduled) leaves its share
/// to the others. Which thread runs an index is not fixed, so a task must write only what its
/// index owns for the result to be deterministic. The pool is one per process, started on the
/// first call that needs it (num_threads() - 1 workers), and serves one caller at a time: a call
/// made from inside a task, from another thread while the pool is busy, or in a child process
/// after fork() runs every index on its own thread instead (never more threads than
/// num_threads(), never a deadlock). Idle workers spin ~50 us, then sleep. `task` must not throw.
template <typename Task>
void parallel_for(int64_t count, Task&& task) {
  using Fn = std::remove_reference_t<Task>;
  detail::parallel_for(
      count, [](void* t, int64_t i) { (*static_cast<Fn*>(t))(i); },
      const_cast<void*>(static_cast<const void*>(&task)));
}

/// Below this many multiply-adds a product is not worth waking a thread for (Note [GEMM on Eigen]
/// in gemm.cc: the iris example's 16x4x20 stays at ~100 ns on the calling thread).
inline constexpr double kParallelMinMacs = 1 << 21;

/// Runs product(i) for each of `count` independent products of `macs` multiply-adds each: small
/// products, many of them, share out the threads one product each (parallel_for); otherwise they
/// run in turn on the calling thread, where a large one splits itself (gemm, integer_gemm).
template <typename Product>
void for_each_product(int64_t count, double macs, Product&& product) {
  if (macs < kParallelMinMacs && macs * static_cast<double>(count) >= kParallelMinMacs)
    parallel_for(count, product);
  else
    for (int64_t i = 0; i < count; ++i) product(i);
}

}  // namespace kiln::kernels
