// ProgressBar: the tqdm layout, plain lines when the stream is no terminal, '\r' redraws when it
// is one, and write() above the bar.
#include "kiln/metrics/progress_bar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/error_of.h"

namespace kiln {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ProgressBar, RendersTqdmLayout) {
  std::ostringstream os;
  ProgressBar bar(30, "", &os, false);
  bar.update(12);
  const std::string text = bar.render();
  // 12/30 is 40%: 12 of the 30 cells full.
  EXPECT_EQ(text.substr(0, text.find("| 12/30")), " 40%|" + repeat("█", 12) + std::string(18, ' ')) << text;
  EXPECT_TRUE(std::regex_match(text, std::regex(R"(.*\| 12/30 \[\d\d:\d\d<\d\d:\d\d, \d+\.\d\dit/s\])"))) << text;
  bar.close();
}

TEST(ProgressBar, PercentIsTheIntegerFloor) {
  std::ostringstream os;
  ProgressBar bar(100, "", &os, false);
  bar.update(29);  // 29/100 is 0.28999... as a double
  EXPECT_EQ(bar.render().substr(0, 5), " 29%|");
  bar.update(28);
  EXPECT_EQ(bar.render().substr(0, 5), " 57%|");
  bar.update(50);  // past the total: the bar stays full, the count says how far
  EXPECT_EQ(bar.render().substr(0, 5), "100%|");
  EXPECT_NE(bar.render().find("| 107/100 ["), std::string::npos) << bar.render();
  bar.close();
}

TEST(ProgressBar, DrawsPartialCellsAndTheDescription) {
  std::ostringstream os;
  ProgressBar bar(16, "train", &os, false);
  bar.update(1);  // 1/16 of 30 cells: 1 full cell and 7 eighths of the next
  const std::string text = bar.render();
  EXPECT_EQ(text.substr(0, text.find("| 1/16")), "train:   6%|█▉" + std::string(28, ' ')) << text;
  bar.close();
}

TEST(ProgressBar, UnknownRemainingTimeBeforeAnyProgress) {
  std::ostringstream os;
  ProgressBar bar(10, "", &os, false);
  EXPECT_NE(bar.render().find("| 0/10 [00:00<?, 0.00it/s]"), std::string::npos) << bar.render();
  bar.close();
}

TEST(ProgressBar, PlainLinesWhenNotATerminal) {
  std::ostringstream os;
  {
    ProgressBar bar(30, "epochs", &os, /*is_terminal=*/false);
    for (int i = 0; i < 30; ++i) bar.update();
    bar.close();
    bar.update();  // ignored after close
  }
  const std::string out = os.str();
  EXPECT_EQ(out.find('\r'), std::string::npos);
  std::vector<std::string> lines = lines_of(out);
  // One line per tenth of the run: 0% (at 1/30), 10%, ..., 100%; the last is the final state.
  ASSERT_EQ(lines.size(), 11u) << out;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.rfind("epochs: ", 0), 0u) << line;
    EXPECT_NE(line.find("it/s]"), std::string::npos) << line;
  }
  EXPECT_NE(lines[0].find("| 1/30 ["), std::string::npos) << lines[0];
  EXPECT_NE(lines[3].find("| 9/30 ["), std::string::npos) << lines[3];
  EXPECT_NE(lines.back().find("100%|" + repeat("█", 30) + "| 30/30 ["), std::string::npos) << lines.back();
}

TEST(ProgressBar, PlainLinesStayFewForLongRuns) {
  std::ostringstream os;
  ProgressBar bar(100000, "", &os, false);
  for (int i = 0; i < 100000; ++i) bar.update();
  bar.close();
  EXPECT_EQ(lines_of(os.str()).size(), 11u);
}

TEST(ProgressBar, ClosingPrintsTheFinalCountOnce) {
  std::ostringstream os;
  {
    ProgressBar bar(100, "", &os, false);
    bar.update(1);  // the first tenth: a line
    bar.update(4);  // still the first tenth: no line
  }                 // the destructor closes, printing where the run stopped
  std::vector<std::string> lines = lines_of(os.str());
  ASSERT_EQ(lines.size(), 2u) << os.str();
  EXPECT_NE(lines[0].find("| 1/100 ["), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("  5%|", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("| 5/100 ["), std::string::npos) << lines[1];

  // When the last line already shows the final count, close adds none.
  std::ostringstream again;
  {
    ProgressBar bar(2, "", &again);
    bar.update(2);
  }
  EXPECT_EQ(lines_of(again.str()).size(), 1u) << again.str();
}

TEST(ProgressBar, RedrawsOneLineWithCarriageReturnsOnATerminal) {
  std::ostringstream os;
  ProgressBar bar(3, "", &os, /*is_terminal=*/true);
  bar.update();
  EXPECT_EQ(os.str().rfind("\r 33%|", 0), 0u) << os.str();  // the first update draws at once
  bar.update();
  bar.update();  // the last count always draws
  bar.close();
  const std::string out = os.str();
  EXPECT_GE(std::count(out.begin(), out.end(), '\r'), 3);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);  // only close ends the line
  EXPECT_EQ(out.back(), '\n');
  const std::string last = out.substr(out.rfind('\r') + 1);
  EXPECT_EQ(last.rfind("100%|" + repeat("█", 30) + "| 3/3 [", 0), 0u) << last;
  EXPECT_NE(last.find("it/s]"), std::string::npos) << last;
}

TEST(ProgressBar, WriteGoesAboveTheBar) {
  std::ostringstream bar_out, lines;
  {
    ProgressBar bar(4, "", &bar_out, true);
    bar.update();
    const size_t before = bar_out.str().size();
    bar.write("epoch 1: loss 0.5", &lines);
    EXPECT_EQ(lines.str(), "epoch 1: loss 0.5\n");
    const std::string after = bar_out.str().substr(before);
    // The bar's line is blanked (as many spaces as it had columns), then drawn again.
    ASSERT_EQ(after[0], '\r') << after;
    const size_t second = after.find('\r', 1);
    EXPECT_GT(second, 40u) << after;
    ASSERT_NE(second, std::string::npos) << after;
    EXPECT_EQ(after.find_first_not_of(' ', 1), second) << after;
    EXPECT_EQ(after.substr(second + 1, 6), "\r 25%|") << after;
  }
  std::ostringstream plain, plain_lines;
  ProgressBar bar(4, "", &plain, false);
  bar.update();
  const std::string before = plain.str();
  bar.write("epoch 1", &plain_lines);
  EXPECT_EQ(plain_lines.str(), "epoch 1\n");
  EXPECT_EQ(plain.str(), before);  // nothing to erase on a log
  bar.close();
}

TEST(ProgressBar, RateCountsIterationsPerSecond) {
  std::ostringstream os;
  ProgressBar bar(100, "", &os, false);
  EXPECT_EQ(bar.rate(), 0.0);
  bar.update(50);
  EXPECT_GT(bar.rate(), 0.0);
  bar.close();
}

TEST(ProgressBar, AnyOtherStreamIsNoTerminal) {
  std::ostringstream os;
  {
    ProgressBar bar(2, "", &os);
    bar.update(2);
  }
  EXPECT_EQ(os.str().find('\r'), std::string::npos);
  EXPECT_EQ(lines_of(os.str()).size(), 1u) << os.str();
}

TEST(ProgressBar, RejectsANegativeTotal) {
  std::ostringstream os;
  EXPECT_EQ(kiln::test::error_of([&] { ProgressBar bar(-1, "", &os); }), "ProgressBar: total must be >= 0, got -1");
}

}  // namespace
}  // namespace kiln
