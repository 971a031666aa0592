// ProgressBar: a tqdm-like progress bar for training loops (count, rate in it/s, ETA).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace kiln {

/// Draws `desc:  40%|████      | 12/30 [00:01<00:02, 9.87it/s]` (elapsed<remaining, rate) on
/// stderr or `out`. On a terminal it redraws one line with '\r', at most every 0.1 s and always
/// at the end; elsewhere (a log file, CI) it prints plain lines, one per tenth of the run (at
/// most 11 lines: 0%, 10%, ..., 100%), so logs stay readable. `is_terminal` left unset asks isatty
/// of the stream when it is std::cerr or std::cout (any other stream counts as no terminal).
/// `write` prints a line on stdout above the bar (tqdm.write), so epoch logs and the bar do not
/// interleave.
class ProgressBar {
 public:
  /// `total` is the count at 100% (>= 0).
  explicit ProgressBar(int64_t total, std::string description = "", std::ostream* out = nullptr,
                       std::optional<bool> is_terminal = std::nullopt);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t n = 1);
  /// Prints `line` (and a newline) to `line_out` (std::cout by default) above the bar: on a
  /// terminal the bar's line is cleared first and the bar redrawn after.
  void write(const std::string& line, std::ostream* line_out = nullptr);
  /// Draws the final state (on a terminal, ends the bar's line); further updates are ignored.
  /// The destructor closes a bar left open.
  void close();
  /// Iterations per second so far.
  double rate() const;
  /// The bar's text for the current state (without '\r' or newline).
  std::string render() const;

 private:
  void draw(bool force);
  double elapsed_seconds() const;

  int64_t total_, count_ = 0;
  int64_t last_tenth_ = -1, printed_count_ = -1;  // plain mode: the last line printed
  size_t drawn_width_ = 0;                          // terminal mode: columns the bar's line holds
  std::string description_;
  std::ostream* out_;
  bool terminal_, closed_ = false, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace kiln
