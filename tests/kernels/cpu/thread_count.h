// ThreadCount: sets the kernel thread count (kiln::kernels::set_num_threads) for one test scope.
#pragma once
#include "kernels/cpu/parallel_for.h"

namespace kiln::test {

class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(kernels::num_threads()) { kernels::set_num_threads(n); }
  ~ThreadCount() { kernels::set_num_threads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

}  // namespace kiln::test
