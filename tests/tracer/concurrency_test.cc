// Tests of one kiln::function called from many threads at once (Note [Threads] in function.cc):
// every result against eager, with the calls' workspaces, the traces, the size checks and the
// caches racing. `tools/kiln test --tsan` runs these under ThreadSanitizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <latch>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.h"
#include "tests/compiler/compiler_test_util.h"
#include "tests/error_of.h"

namespace {
using kiln::DType;
using kiln::Tensor;
using kiln::TensorSpec;
using kiln::Variable;
using kiln::Stage;
using kiln::test::random_values;

constexpr int kThreads = 4;
// ThreadSanitizer runs the GEMMs ~10-20x slower; its run checks the same races with fewer calls.
#if defined(__SANITIZE_THREAD__)
constexpr int kCallsPerThread = 100;
#else
constexpr int kCallsPerThread = 1000;
#endif

// What the threads saw wrong: a count and the first few messages (an EXPECT per call from four
// threads would flood the log).
class Failures {
 public:
  void add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (++count_ <= 5) first_ << what << "\n";
  }
  ::testing::AssertionResult none() const {
    if (count_ == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << count_ << " wrong results or errors; the first:\n" << first_.str();
  }

 private:
  std::mutex mutex_;
  int count_ = 0;
  std::ostringstream first_;
};

// Runs body(thread) on `threads` threads released at once, so that their first calls race; a
// kiln::Error (or any exception) a thread throws is a failure.
void run_together(int threads, Failures& failures, const std::function<void(int)>& body) {
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      try {
        body(t);
      } catch (const std::exception& e) {
        failures.add("thread " + std::to_string(t) + " threw: " + e.what());
      }
    });
  for (std::thread& t : pool) t.join();
}

// Empty when `got` matches `want` (shape, and values within rel * max(1, |want|)), else what differs.
std::string difference(const Tensor& got, const Tensor& want, double rel = 1e-4) {
  if (!got.defined() || got.shape() != want.shape()) return "shape " + (got.defined() ? got.shape().str() : "undefined") +
                                                            " vs " + want.shape().str();
  const std::vector<float> g = got.to_vector<float>(), w = want.to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::fabs(g[i] - w[i]) <= rel * std::max(1.0f, std::fabs(w[i]))))
      return "element " + std::to_string(i) + ": " + std::to_string(g[i]) + " vs eager " + std::to_string(w[i]);
  return "";
}

// A [256,256] step whose two [256,256] temporaries (512 KiB) exceed Note [Disjoint temporaries]'
// size, so they share one workspace by lifetime.
Tensor large_step(const Tensor& x, const Tensor& w) {
  Tensor h = x * x + x;
  Tensor y = kiln::matmul(h, w);
  return y * y - y;
}

// Note [Threads]: 4 threads x 1,000 calls of one compiled [256,256] step, each result against
// eager. With one workspace per process (the JIT object's global), two calls overwrote each
// other's temporaries.
TEST(FunctionConcurrency, LargeStaticMatmulFromFourThreads) {
  const Tensor w = random_values({256, 256}, DType::Float32, -1, 1, 1) * (1.0 / 16);
  auto step = kiln::function([&](const Tensor& x) { return large_step(x, w); }, {.name = "large_matmul"});
  std::vector<Tensor> inputs, wants;
  for (uint32_t k = 0; k < 2 * kThreads; ++k) {
    inputs.push_back(random_values({256, 256}, DType::Float32, -1, 1, 10 + k));
    wants.push_back(large_step(inputs.back(), w));
  }
  Failures failures;
  run_together(kThreads, failures, [&](int t) {
    for (int i = 0; i < kCallsPerThread; ++i) {
      const size_t k = static_cast<size_t>(2 * t + i % 2);
      if (std::string d = difference(step(inputs[k]), wants[k]); !d.empty())
        failures.add("thread " + std::to_string(t) + " call " + std::to_string(i) + ": " + d);
    }
  });
  EXPECT_TRUE(failures.none());
  EXPECT_EQ(step.trace_count(), 1) << step.explain();
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  // The case this test is about: temporaries in a shared workspace, not disjoint views.
  const std::string buffers = step.lower(Stage::Bufferized, inputs[0]);
  EXPECT_NE(buffers.find("memref.view"), std::string::npos) << buffers;
  EXPECT_EQ(buffers.find("kiln.disjoint_view"), std::string::npos) << buffers;
}

// The batch step of the -1 tests: reads a variable (traces mark it while they run).
Tensor batch_step(const Tensor& x, const Variable& w, const Tensor& b) { return kiln::relu(kiln::matmul(x * 2.0 + 1.0, w)) - b; }

// A size for call i of thread t, in [1, 200], never the size of the thread's previous call.
int64_t batch_size(int t, int i) { return 1 + (37 * i + 101 * t) % 200; }

// An input of every batch size in [1, 200] for batch_step: inputs[n - 1] is [n, 32].
std::vector<Tensor> batch_inputs(uint32_t seed) {
  std::vector<Tensor> inputs;
  for (int64_t n = 1; n <= 200; ++n)
    inputs.push_back(random_values({n, 32}, DType::Float32, -1, 1, seed + static_cast<uint32_t>(n)));
  return inputs;
}

// Note [Threads]: a -1 signature and a new batch size on every call, from 4 threads: the size
// checks (traces) of new sizes race with each other, with cached calls and with eager ops on
// the variable they read. Before, the signature cache crashed ("double free or corruption").
TEST(FunctionConcurrency, NewBatchSizeOnEveryCallFromFourThreads) {
  const Variable w(random_values({32, 16}, DType::Float32, -1, 1, 2), true, "w");
  const Tensor b = random_values({16}, DType::Float32, -1, 1, 3);
  auto step = kiln::function([&](const Tensor& x) { return batch_step(x, w, b); },
                             {.name = "batch", .input_signature = {TensorSpec{{-1, 32}}}});
  const std::vector<Tensor> inputs = batch_inputs(0);
  Failures failures;
  run_together(kThreads, failures, [&](int t) {
    for (int i = 0; i < kCallsPerThread; ++i) {
      const Tensor& x = inputs[static_cast<size_t>(batch_size(t, i) - 1)];
      Tensor got = step(x);
      if (std::string d = difference(got, batch_step(x, w, b)); !d.empty())
        failures.add("thread " + std::to_string(t) + " batch " + std::to_string(x.shape()[0]) + ": " + d);
    }
  });
  EXPECT_TRUE(failures.none());
  EXPECT_EQ(step.trace_count(), 1) << step.explain();
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
}

// Note [Threads]: threads that all start on an untraced function: one traces and compiles, the
// others wait for it and run its code. Many fresh functions, so that the race happens.
TEST(FunctionConcurrency, FirstCallsRace) {
  const Tensor w = random_values({24, 8}, DType::Float32, -1, 1, 4);
  std::vector<Tensor> inputs, wants;
  for (uint32_t t = 0; t < kThreads; ++t) {
    inputs.push_back(random_values({6, 24}, DType::Float32, -1, 1, 20 + t));
    wants.push_back(kiln::matmul(inputs.back(), w) + 0.5);
  }
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Static shapes, then a -1 batch whose first calls come at different sizes.
    auto fixed = kiln::function([&](const Tensor& x) { return kiln::matmul(x, w) + 0.5; }, {.name = "first_fixed"});
    auto batch = kiln::function([&](const Tensor& x) { return kiln::matmul(x, w) + 0.5; },
                                {.name = "first_batch", .input_signature = {TensorSpec{{-1, 24}}}});
    Failures failures;
    run_together(kThreads, failures, [&](int t) {
      const size_t k = static_cast<size_t>(t);
      const Tensor rows = kiln::slice(inputs[k], {0, 0}, {t + 1, 24});
      for (int i = 0; i < 3; ++i) {
        if (std::string d = difference(fixed(inputs[k]), wants[k]); !d.empty()) failures.add("fixed: " + d);
        if (std::string d = difference(batch(rows), kiln::slice(wants[k], {0, 0}, {t + 1, 8})); !d.empty())
          failures.add("batch: " + d);
      }
    });
    EXPECT_TRUE(failures.none());
    EXPECT_EQ(fixed.trace_count(), 1) << fixed.explain();
    EXPECT_EQ(fixed.compile_count(), 1) << fixed.explain();
    EXPECT_EQ(batch.trace_count(), 1) << batch.explain();
    EXPECT_EQ(batch.compile_count(), 1) << batch.explain();
  }
}

// Note [Threads]: two functions that read one variable, from 4 threads that call both: one
// compiled with a random op (dropout: every thread draws from one Generator), one interpreted
// (compile = false) whose host code reads the batch size (a guard: Note [Symbolic dims]), so
// that each new size is traced again while the other threads run its graph on the eager kernels
// and compute their references eagerly from the same variable.
TEST(FunctionConcurrency, TwoFunctionsSharingAVariableFromManyThreads) {
  const Variable w(random_values({32, 16}, DType::Float32, -1, 1, 5), true, "w");
  const Tensor b = random_values({16}, DType::Float32, -1, 1, 6);
  kiln::Generator generator(7);
  auto dropped = kiln::function([&](const Tensor& x) { return kiln::dropout(kiln::matmul(x, w), 0.5, true, &generator); },
                                {.name = "dropped"});
  auto interpreted = kiln::function([&](const Tensor& x) { return batch_step(kiln::reshape(x, {x.dim(0), 32}), w, b); },
                                    {.name = "interpreted", .input_signature = {TensorSpec{{-1, 32}}}, .compile = false});
  const Tensor x = random_values({8, 32}, DType::Float32, -1, 1, 8);
  const std::vector<float> product = kiln::matmul(x, w).to_vector<float>();
  const std::vector<Tensor> inputs = batch_inputs(1000);
  Failures failures;
  std::atomic<int64_t> kept{0}, dropped_elements{0};
  run_together(kThreads, failures, [&](int t) {
    for (int i = 0; i < kCallsPerThread / 4; ++i) {
      // Dropout keeps an element (scaled by 2) or zeroes it.
      const std::vector<float> got = dropped(x).to_vector<float>();
      for (size_t e = 0; e < got.size(); ++e) {
        if (got[e] == 0) ++dropped_elements;
        else if (std::fabs(got[e] - 2 * product[e]) <= 1e-5f * std::max(1.0f, std::fabs(2 * product[e]))) ++kept;
        else failures.add("dropped: element " + std::to_string(e) + " is " + std::to_string(got[e]));
      }
      const Tensor& in = inputs[static_cast<size_t>(batch_size(t, i) - 1)];
      if (std::string d = difference(interpreted(in), batch_step(in, w, b)); !d.empty()) failures.add("interpreted: " + d);
    }
  });
  EXPECT_TRUE(failures.none());
  EXPECT_GT(kept.load(), 0);
  EXPECT_GT(dropped_elements.load(), 0);
  EXPECT_EQ(dropped.trace_count(), 1) << dropped.explain();
  EXPECT_EQ(interpreted.trace_count(), 1) << interpreted.explain();
  EXPECT_NE(interpreted.explain().find("(traced again)"), std::string::npos) << "new sizes were traced";
}

}  // namespace
