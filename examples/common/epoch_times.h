// EpochTimes: wall time of each training epoch, so that eager and compiled runs of an example can
// be compared.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace examples {

class EpochTimes {
 public:
  void start() { start_ = std::chrono::steady_clock::now(); }
  /// Ends the epoch; returns its milliseconds.
  double stop() {
    ms_.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
    return ms_.back();
  }
  /// The median of the epochs after the first (0 with fewer than two epochs).
  double median_of_rest() const {
    std::vector<double> rest(ms_.begin() + std::min<size_t>(1, ms_.size()), ms_.end());
    std::sort(rest.begin(), rest.end());
    return rest.empty() ? 0.0 : rest[rest.size() / 2];
  }
  /// `epoch time: first 152.301 ms, median of the rest 0.412 ms (compiled, train_step traced 1 time)`;
  /// with a `compile_count` (>= 0) `..., traced 1 time, compiled 1 time)`: a smaller last batch
  /// that needs code of its own shows as a second compile.
  /// The first epoch stands apart: under --compiled it holds the trace and the compile (or the
  /// load from the disk compile cache).
  std::string summary(bool compiled, int trace_count, int compile_count = -1) const {
    char line[160];
    std::snprintf(line, sizeof line, "epoch time: first %.3f ms, median of the rest %.3f ms (",
                  ms_.empty() ? 0.0 : ms_[0], median_of_rest());
    if (!compiled) return line + std::string("eager)");
    auto times = [](int n) { return std::to_string(n) + (n == 1 ? " time" : " times"); };
    return line + ("compiled, train_step traced " + times(trace_count)) +
           (compile_count >= 0 ? ", compiled " + times(compile_count) : "") + ")";
  }

 private:
  std::chrono::steady_clock::time_point start_;
  std::vector<double> ms_;
};

}  // namespace examples
