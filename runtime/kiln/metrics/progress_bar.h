// ProgressBar: a tqdm-like progress bar for training loops (count, rate in it/s, ETA).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace kiln {

/// Draws `  40%|████      | 12/30 [00:01<00:02, 9.87it/s]` on stderr (or `out`). On a terminal it
/// redraws one line with '\r'; elsewhere (a log file, CI) it prints plain lines, about one per
/// tenth of the run plus the last, so logs stay readable. `write` prints a line on stdout above
/// the bar (tqdm.write), so epoch logs and the bar do not interleave.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t total, std::string description = "", std::ostream* out = nullptr,
                       std::optional<bool> is_terminal = std::nullopt);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t n = 1);
  /// Prints `line` (and a newline) to `line_out` (std::cout by default) above the bar.
  void write(const std::string& line, std::ostream* line_out = nullptr);
  /// Draws the final state; further updates are ignored.
  void close();
  /// Iterations per second so far.
  double rate() const;
  /// The bar's text for the current state (without '\r' or newline).
  std::string render() const;

 private:
  void draw();
  double elapsed_seconds() const;

  int64_t total_, count_ = 0, last_plain_ = -1;
  std::string description_;
  std::ostream* out_;
  bool terminal_, closed_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace kiln
