// kiln::kernels::parallel_for and the kernel thread count: every index once, the workers really
// take part, nested and concurrent calls complete, KILN_NUM_THREADS values are checked.
#include "kernels/cpu/parallel_for.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/error_of.h"
#include "tests/kernels/cpu/thread_count.h"

namespace kiln::test {
namespace {

TEST(ParallelFor, RunsEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadCount count(threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      kernels::parallel_for(n, [&](int64_t i) { hits[i].fetch_add(1); });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "index " << i << " of " << n << ", " << threads << " threads";
    }
  }
}

// With 2 threads and 2 indices, each index waits for the other to start: it passes only if a
// worker runs one of them while the caller runs the other.
TEST(ParallelFor, TheWorkersTakePart) {
  ThreadCount two(2);
  std::atomic<int> started{0};
  std::mutex m;
  std::set<std::thread::id> ids;
  kernels::parallel_for(2, [&](int64_t) {
    {
      std::lock_guard<std::mutex> lock(m);
      ids.insert(std::this_thread::get_id());
    }
    started.fetch_add(1);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (started.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  });
  EXPECT_EQ(started.load(), 2);
  EXPECT_EQ(ids.size(), 2u);
}

TEST(ParallelFor, NestedCallsRunInline) {
  ThreadCount two(2);
  std::vector<std::atomic<int>> hits(64);
  kernels::parallel_for(8, [&](int64_t i) { kernels::parallel_for(8, [&](int64_t j) { hits[i * 8 + j].fetch_add(1); }); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

// Two threads calling at once: one gets the pool, the other runs its indices itself.
TEST(ParallelFor, ConcurrentCallersBothComplete) {
  ThreadCount two(2);
  std::atomic<int64_t> sums[2] = {0, 0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 2; ++c)
    callers.emplace_back([&, c] {
      for (int repeat = 0; repeat < 200; ++repeat) kernels::parallel_for(100, [&](int64_t i) { sums[c].fetch_add(i); });
    });
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(sums[0].load(), 200 * 4950);
  EXPECT_EQ(sums[1].load(), 200 * 4950);
}

TEST(ParallelFor, ThreadCountFromTheEnvironmentValue) {
  EXPECT_EQ(kernels::parse_num_threads("1"), 1);
  EXPECT_EQ(kernels::parse_num_threads("2"), 2);
  EXPECT_EQ(kernels::parse_num_threads("16"), 16);
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(kernels::parse_num_threads(nullptr), hardware);
  EXPECT_EQ(kernels::parse_num_threads(""), hardware);
  for (const char* bad : {"0", "-1", "abc", "2x", " ", "1025", "99999999999999999999999"})
    EXPECT_TRUE(has(error_of([&] { kernels::parse_num_threads(bad); }),
                    std::string("KILN_NUM_THREADS: expected a positive integer (at most 1024), got '") + bad + "'"));
  EXPECT_TRUE(has(error_of([] { kernels::set_num_threads(0); }), "set_num_threads: expected 1 to 1024 threads, got 0"));
  EXPECT_GE(kernels::num_threads(), 1);
}

}  // namespace
}  // namespace kiln::test
