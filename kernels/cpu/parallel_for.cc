// kiln::kernels::parallel_for: one persistent pool of workers per process (Note [Kernel threads]).
#include "kernels/cpu/parallel_for.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kiln/error.h"

// Note [Kernel threads]
// The CPU kernels share one pool per process: num_threads() - 1 workers plus the thread that
// calls parallel_for, which works too instead of waiting. Each call hands out indices through
// one atomic counter, so the split of work is decided by the caller (GEMM: fixed panels, Note
// [GEMM on Eigen] in gemm.cc) and stays the same whichever thread runs what: results do not
// depend on scheduling. On this 2-core machine that is the caller and one worker.
//
// Waking a sleeping thread costs ~5-50 us (futex), a spinning one well under 1 us, and a
// training step calls GEMMs back to back with a little elementwise work between them: so an idle
// worker spins ~50 us (with the pause instruction) before it sleeps on a condition variable, and
// the caller, done with its own indices, spins as long before it sleeps waiting for the rest.
// Spinning threads only ever wait for work the process is about to hand them; a longer spin
// would take a shared machine's cores from other processes for nothing.
//
// Only the workers a call needs are woken (each worker has its own "go" word), so a worker never
// reads a job description that a later call is rewriting. The pool serves one caller at a time:
// a second thread that finds it busy, a task that calls parallel_for again (nested), or a child
// process after fork() (which has no workers) runs its indices on its own thread. So Kiln never
// runs more than num_threads() threads of kernel work at once, whoever calls it.
//
// The pool is allocated once and never destroyed: workers sleeping at exit() must not see their
// condition variable destroyed under them, and kernels may run from other static destructors.

namespace kiln::kernels {
namespace {

constexpr std::chrono::microseconds kSpin{50};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until `ready()` or kSpin has passed; returns ready().
template <typename Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (ready()) return true;
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return ready();
    cpu_relax();
  }
}

std::atomic<int> g_threads{0};  // 0 until the environment was read or set_num_threads called
std::atomic<bool> g_forked{false};
thread_local bool t_in_task = false;

class Pool {
 public:
  // Runs run(task, i) for i in [0, count) on the caller and `helpers` workers; false (nothing
  // run) when another thread holds the pool.
  bool try_run(int64_t count, void (*run)(void*, int64_t), void* task, int helpers) {
    std::unique_lock<std::mutex> caller(caller_, std::try_to_lock);
    if (!caller.owns_lock()) return false;
    ensure_workers(helpers);
    run_ = run;
    task_ = task;
    count_ = count;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(helpers, std::memory_order_relaxed);
    const uint64_t job = ++job_;
    for (int w = 0; w < helpers; ++w) workers_[w]->go.store(job, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(m_);
      wake_.notify_all();
    }
    t_in_task = true;
    run_indices();
    t_in_task = false;
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    return true;
  }

 private:
  struct Worker {
    std::atomic<uint64_t> go{0};  // the last job this worker was asked to take part in
  };

  void run_indices() {
    for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count_;) run_(task_, i);
  }

  // Called with caller_ held: workers_ only changes there.
  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      workers_.push_back(std::make_unique<Worker>());
      Worker* self = workers_.back().get();
      std::thread([this, self] { work(*self); }).detach();
    }
  }

  void work(Worker& self) {
    t_in_task = true;  // a task that calls parallel_for runs it inline
    uint64_t seen = 0;
    for (;;) {
      auto has_job = [&] { return self.go.load(std::memory_order_seq_cst) != seen; };
      if (!spin_until(has_job)) {
        std::unique_lock<std::mutex> lock(m_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, has_job);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      seen = self.go.load(std::memory_order_acquire);
      run_indices();
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(m_);
        done_.notify_one();
      }
    }
  }

  std::mutex caller_;  // held by the thread whose call the workers serve
  std::mutex m_;       // for sleeping: wake_ (workers) and done_ (the caller)
  std::condition_variable wake_, done_;
  std::atomic<int> sleepers_{0};
  uint64_t job_ = 0;
  // The current job, written by the caller before it sets the workers' `go`.
  void (*run_)(void*, int64_t) = nullptr;
  void* task_ = nullptr;
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};  // workers of the current job not yet done
  std::vector<std::unique_ptr<Worker>> workers_;
};

Pool& pool() {
  static Pool* const the_pool = [] {
    pthread_atfork(nullptr, nullptr, [] { g_forked.store(true, std::memory_order_relaxed); });
    return new Pool();
  }();
  return *the_pool;
}

}  // namespace

int parse_num_threads(const char* value) {
  if (value == nullptr || *value == '\0') {
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware == 0 ? 1 : static_cast<int>(std::min(hardware, 1024u));
  }
  errno = 0;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  KILN_CHECK(end != value && *end == '\0' && errno == 0 && n >= 1 && n <= 1024,
             "KILN_NUM_THREADS: expected a positive integer (at most 1024), got '", value, "'");
  return static_cast<int>(n);
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    n = parse_num_threads(std::getenv("KILN_NUM_THREADS"));
    int expected = 0;
    if (!g_threads.compare_exchange_strong(expected, n, std::memory_order_relaxed)) n = expected;
  }
  return n;
}

void set_num_threads(int n) {
  KILN_CHECK(n >= 1 && n <= 1024, "set_num_threads: expected 1 to 1024 threads, got ", n);
  g_threads.store(n, std::memory_order_relaxed);
}

namespace detail {
void parallel_for(int64_t count, void (*run)(void*, int64_t), void* task) {
  if (count <= 0) return;
  const int64_t participants = count < 2 || t_in_task || g_forked.load(std::memory_order_relaxed)
                                   ? 1
                                   : std::min<int64_t>(num_threads(), count);
  if (participants > 1 && pool().try_run(count, run, task, static_cast<int>(participants - 1))) return;
  for (int64_t i = 0; i < count; ++i) run(task, i);
}
}  // namespace detail

}  // namespace kiln::kernels
