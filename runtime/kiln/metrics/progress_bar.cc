// ProgressBar drawing: tqdm's layout, with Unicode block characters for the bar.
#include "kiln/metrics/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "kiln/error.h"

namespace kiln {
namespace {
constexpr int kBarWidth = 30;
constexpr double kMinRedrawSeconds = 0.1;  // tqdm's mininterval: a fast loop must not flood the terminal

std::string clock_text(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

// Terminal columns of UTF-8 text: one per character (every bar character is one column wide).
size_t display_width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool stream_is_terminal(const std::ostream* out) {
  if (out == &std::cerr || out == &std::clog) return isatty(STDERR_FILENO) == 1;
  if (out == &std::cout) return isatty(STDOUT_FILENO) == 1;
  return false;
}
}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string description, std::ostream* out, std::optional<bool> is_terminal)
    : total_(total), description_(std::move(description)), out_(out ? out : &std::cerr),
      terminal_(is_terminal.value_or(stream_is_terminal(out_))), start_(std::chrono::steady_clock::now()) {
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
  // Integer arithmetic: 29/100 as a double is 0.28999..., which must still read 29%.
  const int64_t done = std::clamp<int64_t>(count_, 0, total_);
  const int64_t percent = total_ > 0 ? done * 100 / total_ : 100;
  // Eighths of a cell, as tqdm draws partial blocks.
  static const char* kPartial[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const int64_t eighths = total_ > 0 ? done * kBarWidth * 8 / total_ : kBarWidth * 8;
  std::string bar;
  int64_t cells = eighths / 8;
  for (int64_t i = 0; i < cells; ++i) bar += "█";
  if (cells < kBarWidth && eighths % 8) {
    bar += kPartial[eighths % 8];
    ++cells;
  }
  bar.append(static_cast<size_t>(kBarWidth - cells), ' ');
  const double r = rate();
  // The remaining time is unknown ("?") until something has been counted.
  const std::string eta = count_ >= total_ ? clock_text(0)
                          : r > 0          ? clock_text(static_cast<double>(total_ - count_) / r)
                                           : "?";
  char tail[160];
  std::snprintf(tail, sizeof tail, "| %lld/%lld [%s<%s, %.2fit/s]", static_cast<long long>(count_),
                static_cast<long long>(total_), clock_text(elapsed_seconds()).c_str(), eta.c_str(), r);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3d%%|", static_cast<int>(percent));
  return (description_.empty() ? "" : description_ + ": ") + pct + bar + tail;
}

void ProgressBar::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    const bool due = !drawn_ || count_ >= total_ ||
                     std::chrono::duration<double>(now - last_draw_).count() >= kMinRedrawSeconds;
    if (!force && !due) return;
    const std::string text = render();
    const size_t width = display_width(text);
    // Spaces cover what a longer previous line left behind.
    *out_ << '\r' << text << std::string(drawn_width_ > width ? drawn_width_ - width : 0, ' ') << std::flush;
    drawn_width_ = width;
    drawn_ = true;
    last_draw_ = now;
    return;
  }
  // Plain lines: one per tenth of the run (the last always comes, from close() if not here).
  const int64_t tenth = total_ > 0 ? std::min<int64_t>(count_ * 10 / total_, 10) : 10;
  if (!force && tenth == last_tenth_) return;
  if (force && count_ == printed_count_) return;
  last_tenth_ = tenth;
  printed_count_ = count_;
  *out_ << render() << '\n' << std::flush;
}

void ProgressBar::update(int64_t n) {
  if (closed_) return;
  count_ += n;
  draw(false);
}

void ProgressBar::write(const std::string& line, std::ostream* line_out) {
  std::ostream& dest = line_out ? *line_out : std::cout;
  const bool redraw = terminal_ && !closed_ && drawn_;
  if (redraw) *out_ << '\r' << std::string(drawn_width_, ' ') << '\r' << std::flush;
  dest << line << '\n' << std::flush;
  if (redraw) {
    drawn_width_ = 0;
    draw(true);
  }
}

void ProgressBar::close() {
  if (closed_) return;
  draw(true);
  closed_ = true;
  if (terminal_) *out_ << '\n' << std::flush;
}

}  // namespace kiln
