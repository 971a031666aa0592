// ProgressBar: render() text at exact counts (percent, count, bar cells in eighths), plain lines
// for logs, '\r' redraws on a terminal, write() above the bar, close() and bad totals.
#include "kiln/metrics/progress_bar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/error_of.h"

namespace kiln {
namespace {
using kiln::test::error_of;

constexpr int kCells = 30;  // the bar's width in characters
const std::string kFull = "█";
const char* const kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};

testing::AssertionResult has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Characters (code points) of UTF-8 text.
size_t chars_of(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The bar between the "NN%|" and the "| count/total" of a rendered line.
std::string bar_of(const std::string& text) {
  const size_t open = text.find("%|");
  const size_t close = text.find("| ", open + 2);
  if (open == std::string::npos || close == std::string::npos) return "<no bar in '" + text + "'>";
  return text.substr(open + 2, close - open - 2);
}

// What the bar should be at count/total, computed exactly: floor(count * 240 / total) eighths.
std::string expected_bar(int64_t count, int64_t total) {
  const int64_t eighths = total > 0 ? count * kCells * 8 / total : kCells * 8;
  std::string bar;
  int64_t cells = eighths / 8;
  for (int64_t i = 0; i < cells; ++i) bar += kFull;
  if (eighths % 8) {
    bar += kEighths[eighths % 8];
    ++cells;
  }
  return bar + std::string(static_cast<size_t>(kCells - cells), ' ');
}

std::string percent_text(int64_t percent) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%3d%%|", static_cast<int>(percent));
  return buf;
}

size_t count_char(const std::string& s, char c) { return static_cast<size_t>(std::count(s.begin(), s.end(), c)); }

// ---------------------------------------------------------------------------------------------
// render

TEST(ProgressBarRender, AtZeroHalfAndFull) {
  std::ostringstream os;
  ProgressBar bar(100, "", &os, false);
  std::string text = bar.render();
  EXPECT_EQ(text.rfind("  0%|" + std::string(kCells, ' ') + "| 0/100 [", 0), 0u) << text;
  EXPECT_TRUE(has(text, "<?, 0.00it/s]"));  // nothing counted yet: remaining time unknown

  bar.update(50);
  text = bar.render();
  std::string half;
  for (int i = 0; i < kCells / 2; ++i) half += kFull;
  EXPECT_EQ(text.rfind(" 50%|" + half + std::string(kCells / 2, ' ') + "| 50/100 [", 0), 0u) << text;

  bar.update(50);
  text = bar.render();
  std::string full;
  for (int i = 0; i < kCells; ++i) full += kFull;
  EXPECT_EQ(text.rfind("100%|" + full + "| 100/100 [", 0), 0u) << text;
  EXPECT_TRUE(has(text, "<00:00, "));  // nothing remains
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(\[\d\d:\d\d<00:00, \d+\.\d\dit/s\]$)"))) << text;
}

TEST(ProgressBarRender, DescriptionPrefix) {
  std::ostringstream os;
  ProgressBar bar(4, "epoch 3", &os, false);
  bar.update();
  EXPECT_EQ(bar.render().rfind("epoch 3:  25%|", 0), 0u) << bar.render();
}

TEST(ProgressBarRender, PercentIsTheExactFloorAtEveryCount) {
  // 29/100 is 0.28999... in binary floating point; the text must still say 29%.
  std::ostringstream os;
  ProgressBar bar(100, "", &os, false);
  for (int64_t k = 0; k <= 100; ++k) {
    EXPECT_EQ(bar.render().substr(0, 5), percent_text(k)) << "at " << k << "/100: " << bar.render();
    bar.update();
  }
  ProgressBar third(3, "", &os, false);
  third.update(2);
  EXPECT_EQ(third.render().substr(0, 5), percent_text(66)) << third.render();
}

TEST(ProgressBarRender, BarCellsInEighthsAtEveryCount) {
  std::ostringstream os;
  for (int64_t total : {1, 3, 7, 10, 16, 30, 64, 100}) {
    ProgressBar bar(total, "", &os, false);
    for (int64_t k = 0; k <= total; ++k) {
      const std::string text = bar.render();
      EXPECT_EQ(bar_of(text), expected_bar(k, total)) << k << "/" << total << ": " << text;
      EXPECT_EQ(chars_of(bar_of(text)), static_cast<size_t>(kCells)) << k << "/" << total << ": " << text;
      bar.update();
    }
  }
}

TEST(ProgressBarRender, BarWidthIsConstantAndClampedPastTheTotal) {
  std::ostringstream os;
  ProgressBar bar(8, "", &os, false);
  bar.update(12);  // past the total: a full bar, 100%, and the real count
  const std::string text = bar.render();
  EXPECT_EQ(bar_of(text), expected_bar(8, 8));
  EXPECT_TRUE(has(text, "100%|"));
  EXPECT_TRUE(has(text, "| 12/8 ["));
}

TEST(ProgressBarRender, ZeroTotalIsDone) {
  std::ostringstream os;
  ProgressBar bar(0, "", &os, false);
  EXPECT_EQ(bar.render().rfind("100%|", 0), 0u) << bar.render();
  EXPECT_TRUE(has(bar.render(), "| 0/0 ["));
}

// ---------------------------------------------------------------------------------------------
// plain lines (no terminal)

TEST(ProgressBarPlain, FewLinesEndingWithTheFinalState) {
  std::ostringstream os;
  {
    ProgressBar bar(100, "train", &os, /*is_terminal=*/false);
    for (int i = 0; i < 100; ++i) bar.update();
    bar.close();
  }
  const std::string out = os.str();
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  const std::vector<std::string> lines = lines_of(out);
  ASSERT_GE(lines.size(), 2u) << out;
  EXPECT_LE(lines.size(), 11u) << out;
  EXPECT_EQ(out.back(), '\n');
  for (const std::string& line : lines) EXPECT_EQ(line.rfind("train: ", 0), 0u) << line;
  EXPECT_TRUE(has(lines.back(), "100/100"));
  EXPECT_TRUE(has(lines.back(), "it/s"));
  EXPECT_TRUE(has(lines.back(), "100%|"));
  // The counts printed only go up.
  int64_t last = -1;
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(\| (\d+)/100 \[)"))) << line;
    const int64_t count = std::stoll(m[1]);
    EXPECT_GT(count, last) << out;
    last = count;
  }
}

TEST(ProgressBarPlain, ManyUpdatesStillFewLines) {
  std::ostringstream os;
  ProgressBar bar(100000, "", &os, false);
  for (int i = 0; i < 100000; ++i) bar.update();
  bar.close();
  EXPECT_LE(lines_of(os.str()).size(), 11u);
  EXPECT_TRUE(has(lines_of(os.str()).back(), "100000/100000"));
}

TEST(ProgressBarPlain, CloseEarlyPrintsTheLastCount) {
  std::ostringstream os;
  ProgressBar bar(100, "", &os, false);
  bar.update(55);
  bar.update();
  bar.close();
  const std::vector<std::string> lines = lines_of(os.str());
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(has(lines.back(), " 56/100 ["));
}

TEST(ProgressBarPlain, CloseWithoutUpdatesPrintsOneLine) {
  std::ostringstream os;
  {
    ProgressBar bar(5, "", &os, false);
  }  // the destructor closes it
  const std::vector<std::string> lines = lines_of(os.str());
  ASSERT_EQ(lines.size(), 1u) << os.str();
  EXPECT_TRUE(has(lines[0], "| 0/5 ["));
}

// ---------------------------------------------------------------------------------------------
// terminal

TEST(ProgressBarTerminal, RedrawsOneLineWithCarriageReturns) {
  std::ostringstream os;
  ProgressBar bar(100, "", &os, /*is_terminal=*/true);
  for (int i = 0; i < 100; ++i) bar.update();
  const std::string before_close = os.str();
  EXPECT_EQ(before_close.find('\n'), std::string::npos) << before_close;
  ASSERT_GE(count_char(before_close, '\r'), 2u) << before_close;  // the first draw and the final state
  EXPECT_LT(count_char(before_close, '\r'), 50u) << "redraws are throttled";
  bar.close();
  const std::string out = os.str();
  EXPECT_EQ(count_char(out, '\n'), 1u);
  EXPECT_EQ(out.back(), '\n');
  // What the terminal shows last: the text after the last '\r'.
  const std::string shown = out.substr(out.rfind('\r') + 1);
  EXPECT_TRUE(has(shown, "100%|"));
  EXPECT_TRUE(has(shown, "100/100"));
  EXPECT_TRUE(has(shown, "it/s]"));
  EXPECT_EQ(out.front(), '\r');
}

TEST(ProgressBarTerminal, WriteClearsTheBarAndRedrawsIt) {
  std::ostringstream os, log;
  ProgressBar bar(10, "", &os, true);
  bar.update(3);
  const size_t drawn = os.str().size();
  bar.write("epoch 1: loss 0.5", &log);
  EXPECT_EQ(log.str(), "epoch 1: loss 0.5\n");
  const std::string after = os.str().substr(drawn);
  // The bar's line is blanked ('\r', spaces, '\r'), then drawn again.
  ASSERT_GE(after.size(), 2u);
  EXPECT_EQ(after[0], '\r');
  const size_t second = after.find('\r', 1);
  ASSERT_NE(second, std::string::npos) << after;
  EXPECT_EQ(after.substr(1, second - 1), std::string(second - 1, ' '));
  EXPECT_GE(second - 1, chars_of(bar.render()) - 5);  // the blanking covers the drawn line
  EXPECT_TRUE(has(after.substr(second), "3/10"));
  EXPECT_EQ(after.find("epoch"), std::string::npos);  // the line went to `log` only
  bar.close();
}

// ---------------------------------------------------------------------------------------------
// API

TEST(ProgressBarApi, WritePutsTheLineOnTheGivenStream) {
  std::ostringstream os, log;
  ProgressBar bar(10, "", &os, false);
  bar.update(5);
  const std::string bar_out = os.str();
  bar.write("hello", &log);
  bar.write("world", &log);
  EXPECT_EQ(log.str(), "hello\nworld\n");
  EXPECT_EQ(os.str(), bar_out);  // nothing on the bar's stream in plain mode
  bar.close();
  // After close, write still prints (and draws nothing).
  const std::string closed = os.str();
  bar.write("done", &log);
  EXPECT_EQ(log.str(), "hello\nworld\ndone\n");
  EXPECT_EQ(os.str(), closed);
}

TEST(ProgressBarApi, CloseIsIdempotentAndStopsUpdates) {
  for (bool terminal : {false, true}) {
    std::ostringstream os;
    {
      ProgressBar bar(10, "", &os, terminal);
      bar.update(4);
      bar.close();
      const std::string once = os.str();
      bar.close();
      bar.update(6);  // ignored
      EXPECT_EQ(os.str(), once) << "terminal " << terminal;
      EXPECT_TRUE(has(bar.render(), "| 4/10 [")) << "terminal " << terminal;
    }  // the destructor adds nothing either
    EXPECT_EQ(count_char(os.str(), '\n'), terminal ? 1u : lines_of(os.str()).size());
    EXPECT_TRUE(has(lines_of(os.str()).back(), "4/10")) << "terminal " << terminal;
  }
}

TEST(ProgressBarApi, NegativeTotalErrors) {
  std::ostringstream os;
  const std::string msg = error_of([&] { ProgressBar bar(-1, "", &os, false); });
  EXPECT_TRUE(has(msg, "ProgressBar"));
  EXPECT_TRUE(has(msg, "-1"));
  EXPECT_EQ(os.str(), "");
}

TEST(ProgressBarApi, RateIsPositiveAfterUpdates) {
  std::ostringstream os;
  ProgressBar bar(1000, "", &os, false);
  EXPECT_EQ(bar.rate(), 0.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  bar.update(10);
  const double r = bar.rate();
  EXPECT_GT(r, 0.0);
  EXPECT_LT(r, 10 / 0.002);  // 10 iterations in at least 2 ms
  bar.close();
}

}  // namespace
}  // namespace kiln
