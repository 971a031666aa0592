// The iris example end to end: each variant trains to the article's accuracy, eagerly and with
// --compiled (kiln::function) alike, and the tutorial form and bad arguments behave.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/program_run.h"

namespace {

using kiln::test::ProgramRun;

ProgramRun run_iris(const std::string& args) { return kiln::test::run_program("examples/iris/iris", args); }

double final_accuracy(const std::string& output) {
  const std::string key = "final valid/accuracy: ";
  size_t at = output.rfind(key);
  return at == std::string::npos ? -1.0 : std::stod(output.substr(at + key.size()));
}

// The first line that starts with `prefix`, without its trailing `  epoch_ms: ...` / `, epoch_ms: ...`
// (wall time differs from run to run); empty when there is none.
std::string line_without_time(const std::string& output, const std::string& prefix) {
  const size_t at = ("\n" + output).find("\n" + prefix);  // at a line's start
  if (at == std::string::npos) return "";
  std::string line = output.substr(at, output.find('\n', at) - at);
  return line.substr(0, std::min(line.find("  epoch_ms:"), line.find(", epoch_ms:")));
}

// The numbers of a line, in order (`epoch: 30  train/loss: 0.06 ...` gives 30, 0.06, ...).
std::vector<double> numbers_of(const std::string& line) {
  std::vector<double> v;
  for (size_t i = 0; i < line.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) continue;
    size_t used = 0;
    v.push_back(std::stod(line.substr(i), &used));
    i += used;
  }
  return v;
}

// Compiled code may round differently from the eager kernels (fused loops, another summation
// order), so the printed values may differ in their last digits; ideally they are identical.
void expect_same_numbers(const std::string& eager, const std::string& compiled, double tolerance) {
  std::vector<double> e = numbers_of(eager), c = numbers_of(compiled);
  ASSERT_FALSE(e.empty()) << eager;
  ASSERT_EQ(e.size(), c.size()) << eager << "\n" << compiled;
  for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(c[i], e[i], tolerance) << eager << "\n" << compiled;
}

class IrisVariant : public testing::TestWithParam<const char*> {};

TEST_P(IrisVariant, ReachesTheArticlesAccuracyWithTheDefaultSeed) {
  ProgramRun r = run_iris(std::string("--variant ") + GetParam());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.9) << r.output;
  for (int epoch = 5; epoch <= 30; epoch += 5)
    EXPECT_NE(r.output.find("epoch: " + std::to_string(epoch) + "  train/loss: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("valid/accuracy: "), std::string::npos);
}

TEST_P(IrisVariant, CompiledTrainsAsEagerWithTheSameSeed) {
  ProgramRun eager = run_iris(std::string("--variant ") + GetParam());
  ProgramRun compiled = run_iris(std::string("--variant ") + GetParam() + " --compiled");
  ASSERT_EQ(eager.status, 0) << eager.output;
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  EXPECT_NEAR(final_accuracy(compiled.output), final_accuracy(eager.output), 1e-6) << eager.output << compiled.output;
  for (int epoch = 5; epoch <= 30; epoch += 5) {
    std::string prefix = "epoch: " + std::to_string(epoch) + "  ";
    expect_same_numbers(line_without_time(eager.output, prefix), line_without_time(compiled.output, prefix), 1e-4);
  }
  // Every batch has the same signature (a smaller last one too: -1 batch dims): one trace.
  EXPECT_NE(compiled.output.find("(compiled, train_step traced 1 time)"), std::string::npos) << compiled.output;
  EXPECT_NE(eager.output.find("(eager)"), std::string::npos) << eager.output;
}

INSTANTIATE_TEST_SUITE_P(Examples, IrisVariant, testing::Values("sequential", "raw", "module"));

TEST(ExamplesIris, DynamicVariantTrains) {
  ProgramRun r = run_iris("--variant dynamic");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(final_accuracy(r.output), 0.5) << r.output;
  EXPECT_EQ(r.output.find("kiln::cond"), std::string::npos) << r.output;
}

TEST(ExamplesIris, CompiledDynamicVariantSaysItsBranchIsFixedAtTraceTime) {
  ProgramRun r = run_iris("--variant dynamic --compiled --epochs 5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("decided at trace time"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kiln::cond"), std::string::npos) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.0) << r.output;
}

TEST(ExamplesIris, EpochLinesShowTheEpochTime) {
  ProgramRun r = run_iris("--variant sequential --epochs 5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("valid/accuracy: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  epoch_ms: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch time: first "), std::string::npos) << r.output;
}

TEST(ExamplesIris, SameSeedSameResult) {
  ProgramRun a = run_iris("--variant module --epochs 5 --seed 7");
  ProgramRun b = run_iris("--variant module --epochs 5 --seed 7");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(final_accuracy(a.output), final_accuracy(b.output));
  std::string line = line_without_time(a.output, "epoch: 5  ");
  ASSERT_FALSE(line.empty()) << a.output;
  EXPECT_EQ(line_without_time(b.output, "epoch: 5  "), line);
}

TEST(ExamplesIris, TutorialFormPrintsEveryFiftyEpochs) {
  ProgramRun r = run_iris("--tutorial --epochs 51");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Epoch 000: Loss: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Epoch 050: Loss: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Epoch 001:"), std::string::npos) << r.output;
}

TEST(ExamplesIris, CompiledTutorialFormTrainsAsEager) {
  ProgramRun eager = run_iris("--tutorial --epochs 51");
  ProgramRun compiled = run_iris("--tutorial --epochs 51 --compiled");
  ASSERT_EQ(eager.status, 0) << eager.output;
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  for (const char* prefix : {"Epoch 000: ", "Epoch 050: "})
    expect_same_numbers(line_without_time(eager.output, prefix), line_without_time(compiled.output, prefix), 1e-3);
}

TEST(ExamplesIris, BadArgumentsAreRefused) {
  ProgramRun unknown = run_iris("--bogus");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.output.find("unknown option"), std::string::npos) << unknown.output;
  ProgramRun epochs = run_iris("--epochs ten");
  EXPECT_EQ(epochs.status, 2);
  EXPECT_NE(epochs.output.find("'ten'"), std::string::npos) << epochs.output;
  ProgramRun variant = run_iris("--variant deep");
  EXPECT_EQ(variant.status, 1);
  EXPECT_NE(variant.output.find("unknown variant 'deep'"), std::string::npos) << variant.output;
}

// A bad KILN_NUM_THREADS is a kiln::Error at the first matmul, eager or compiled (a compiled
// step that cannot link falls back to the interpreter, whose matmul reports it).
TEST(ExamplesIris, BadThreadCountIsRefused) {
  for (const char* mode : {"", "--compiled"}) {
    ProgramRun r = kiln::test::run_program("examples/iris/iris", std::string("--epochs 1 ") + mode,
                                           "KILN_CACHE_DIR=off KILN_NUM_THREADS=two");
    EXPECT_EQ(r.status, 1) << mode;
    EXPECT_NE(r.output.find("KILN_NUM_THREADS: expected a positive integer (at most 1024), got 'two'"), std::string::npos)
        << mode << "\n" << r.output;
  }
}

TEST(ExamplesIris, MalformedDataNamesTheFileAndLine) {
  std::string path = testing::TempDir() + "/iris_bad.csv";
  std::ofstream(path) << "3,4,a,b,c\n5.1,3.5,1.4,0.2,0\n4.9,x,1.4,0.2,0\n";
  ProgramRun r = run_iris("--data " + path + " --epochs 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("iris_bad.csv:3"), std::string::npos) << r.output;
  ProgramRun missing = run_iris("--data /nonexistent/iris.csv --epochs 1");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("/nonexistent/iris.csv"), std::string::npos) << missing.output;
}

TEST(ExamplesIris, DataWithoutRowsIsAnErrorNotATrainingOfNothing) {
  const std::string empty = testing::TempDir() + "/iris_empty.csv", header = testing::TempDir() + "/iris_header.csv";
  std::ofstream(empty) << "";
  std::ofstream(header) << "0,4,setosa,versicolor,virginica\n";
  for (const std::string& path : {empty, header})
    for (const char* form : {"", " --tutorial", " --compiled"}) {
      ProgramRun r = run_iris("--data " + path + " --epochs 1" + form);
      EXPECT_EQ(r.status, 1) << path << form << "\n" << r.output;
      EXPECT_NE(r.output.find(path + ": no data rows"), std::string::npos) << path << form << "\n" << r.output;
      EXPECT_EQ(r.output.find("nan"), std::string::npos) << path << form << "\n" << r.output;
    }
  std::remove(empty.c_str());
  std::remove(header.c_str());
}

}  // namespace
