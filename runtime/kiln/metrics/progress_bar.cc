// ProgressBar drawing: tqdm's layout, with Unicode block characters for the bar.
#include "kiln/metrics/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "kiln/error.h"

namespace kiln {
namespace {
std::string clock_text(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string description, std::ostream* out, std::optional<bool> is_terminal)
    : total_(total), description_(std::move(description)), out_(out ? out : &std::cerr),
      terminal_(is_terminal.value_or(out == nullptr && isatty(STDERR_FILENO) == 1)),
      start_(std::chrono::steady_clock::now()) {
  KILN_CHECK(total >= 0, "ProgressBar: total must be >= 0, got ", total);
}

ProgressBar::~ProgressBar() { close(); }

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::rate() const {
  double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(count_) / t : 0.0;
}

std::string ProgressBar::render() const {
  constexpr int kWidth = 30;
  const double frac = total_ > 0 ? std::min(1.0, static_cast<double>(count_) / static_cast<double>(total_)) : 1.0;
  // Eighths of a cell, as tqdm draws partial blocks.
  static const char* kPartial[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const int eighths = static_cast<int>(frac * kWidth * 8);
  std::string bar;
  for (int i = 0; i < eighths / 8; ++i) bar += "█";
  int cells = eighths / 8;
  if (cells < kWidth && eighths % 8) {
    bar += kPartial[eighths % 8];
    ++cells;
  }
  bar.append(static_cast<size_t>(kWidth - cells), ' ');
  const double r = rate();
  const double eta = r > 0 ? static_cast<double>(total_ - count_) / r : 0.0;
  char tail[128];
  std::snprintf(tail, sizeof tail, "| %lld/%lld [%s<%s, %.2fit/s]", static_cast<long long>(count_),
                static_cast<long long>(total_), clock_text(elapsed_seconds()).c_str(), clock_text(eta).c_str(), r);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3d%%|", static_cast<int>(frac * 100));
  return (description_.empty() ? "" : description_ + ": ") + pct + bar + tail;
}

void ProgressBar::draw() {
  if (terminal_) {
    *out_ << '\r' << render() << std::flush;
    return;
  }
  // Plain lines: one per tenth of the run (and the last).
  const int64_t tenth = total_ > 0 ? count_ * 10 / total_ : 10;
  if (tenth == last_plain_ && count_ < total_) return;
  last_plain_ = tenth;
  *out_ << render() << '\n' << std::flush;
}

void ProgressBar::update(int64_t n) {
  if (closed_) return;
  count_ += n;
  draw();
}

void ProgressBar::write(const std::string& line, std::ostream* line_out) {
  std::ostream& dest = line_out ? *line_out : std::cout;
  if (terminal_ && !closed_) *out_ << "\r\033[K" << std::flush;  // clear the bar's line
  dest << line << '\n' << std::flush;
  if (terminal_ && !closed_) *out_ << render() << std::flush;
}

void ProgressBar::close() {
  if (closed_) return;
  closed_ = true;
  if (terminal_) *out_ << '\r' << render() << '\n' << std::flush;
  else if (last_plain_ < 10 || count_ < total_) *out_ << render() << '\n' << std::flush;
}

}  // namespace kiln
