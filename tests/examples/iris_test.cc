// The iris example end to end: each variant trains to the article's accuracy, and the tutorial
// form and bad arguments behave.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct ProgramRun {
  int status;
  std::string output;  // stdout and stderr together
};

ProgramRun run_iris(const std::string& args) {
  std::string cmd = std::string(KILN_BINARY_DIR) + "/examples/iris/iris " + args + " 2>&1";
  ProgramRun r{-1, ""};
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

double final_accuracy(const std::string& output) {
  const std::string key = "final valid/accuracy: ";
  size_t at = output.rfind(key);
  return at == std::string::npos ? -1.0 : std::stod(output.substr(at + key.size()));
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

INSTANTIATE_TEST_SUITE_P(Examples, IrisVariant, testing::Values("sequential", "raw", "module"));

TEST(ExamplesIris, DynamicVariantTrains) {
  ProgramRun r = run_iris("--variant dynamic");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(final_accuracy(r.output), 0.5) << r.output;
}

TEST(ExamplesIris, SameSeedSameResult) {
  ProgramRun a = run_iris("--variant module --epochs 5 --seed 7");
  ProgramRun b = run_iris("--variant module --epochs 5 --seed 7");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(final_accuracy(a.output), final_accuracy(b.output));
  size_t at = a.output.find("epoch: 5");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(b.output.find(a.output.substr(at, a.output.find('\n', at) - at)), std::string::npos);
}

TEST(ExamplesIris, TutorialFormPrintsEveryFiftyEpochs) {
  ProgramRun r = run_iris("--tutorial --epochs 51");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Epoch 000: Loss: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Epoch 050: Loss: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Epoch 001:"), std::string::npos) << r.output;
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

}  // namespace
