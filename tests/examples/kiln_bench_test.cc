// kiln-bench on the iris example: `--model iris --json` reports the eager and the compiled step,
// their ratio and the compile time (speed itself belongs to the benchmark, not to this test).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/program_run.h"

namespace {

std::string run_bench(const std::string& args, int& status) {
  kiln::test::ProgramRun r = kiln::test::run_program("tools/kiln-bench", args);
  status = r.status;
  return r.output;
}

// The number after `"key": ` in a flat JSON object; -1 when the key is missing.
double json_number(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\": ");
  return at == std::string::npos ? -1.0 : std::stod(json.substr(at + key.size() + 4));
}

// What both model benchmarks report: the model and batch, eager and compiled step times, their
// ratio and the first call's compile time.
void expect_step_figures(const std::string& out, const std::string& model, double batch) {
  EXPECT_NE(out.find("\"model\": \"" + model + "\""), std::string::npos) << out;
  EXPECT_EQ(json_number(out, "batch"), batch) << out;
  const double eager = json_number(out, "eager_us"), compiled = json_number(out, "compiled_us");
  EXPECT_GT(eager, 0) << out;
  EXPECT_GT(compiled, 0) << out;
  EXPECT_NEAR(json_number(out, "speedup"), eager / compiled, 0.01 + 0.01 * eager / compiled) << out;
  EXPECT_GT(json_number(out, "compile_ms"), 0) << out;
}

TEST(KilnBench, IrisJsonReportsEagerAndCompiledSteps) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  std::string out = run_bench("--model iris --json --repetitions 1", status);
  ASSERT_EQ(status, 0) << out;
  expect_step_figures(out, "iris", 16);
  EXPECT_GT(json_number(out, "disk_cache_ms"), 0) << out;
}

TEST(KilnBench, CnnJsonReportsStepsAndGflops) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  std::string out = run_bench("--model cnn --batch 4 --json --repetitions 1", status);
  ASSERT_EQ(status, 0) << out;
  expect_step_figures(out, "cnn", 4);
  // 123.26 MFLOP of training per image (2 x 20.543 M multiply-adds x 3), over the compiled step.
  const double compiled = json_number(out, "compiled_us");
  EXPECT_NEAR(json_number(out, "gflops"), 4 * 123.258e6 / (compiled * 1e3), 0.05 + 0.02 * json_number(out, "gflops")) << out;
  // The step against the machine's FMA roof (Note [FMA roof]): below it, and the fraction is the ratio.
  const double roof = json_number(out, "roof_gflops");
  EXPECT_GT(roof, json_number(out, "gflops")) << out;
  EXPECT_NEAR(json_number(out, "roof_fraction"), json_number(out, "gflops") / roof, 0.002) << out;
}

// --roof: more than a scalar FMA unit at 0.5 GHz, less than two 16-wide FMA ports (64 flops a
// cycle) at 6 GHz on each of at most 1024 kernel threads.
TEST(KilnBench, RoofIsAPlausibleFmaRate) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  const std::string one = run_bench("--roof --json", status);
  ASSERT_EQ(status, 0) << one;
  const double roof = json_number(one, "roof_gflops");
  EXPECT_GT(roof, 1.0) << one;
  EXPECT_LT(roof, 1024 * 6 * 64.0) << one;
  std::string both = run_bench("--roof --conv", status);
  EXPECT_EQ(status, 2) << both;
}

TEST(KilnBench, BatchIsForTheCnnOnly) {
  int status = -1;
  std::string out = run_bench("--model iris --batch 8", status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("--batch takes a positive size, with --model cnn only"), std::string::npos) << out;
}

TEST(KilnBench, PoolJsonReportsEagerAndCompiledMaxPool) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  std::string out = run_bench("--pool --json --repetitions 1", status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"shape\": \"[128,24,24,20]\""), std::string::npos) << out;
  for (const char* key : {"eager_fwd_us", "eager_fwd_grad_us", "compiled_fwd_us", "compiled_fwd_grad_us"})
    EXPECT_GT(json_number(out, key), 0) << key << ": " << out;
  std::string both = run_bench("--pool --dispatch", status);
  EXPECT_EQ(status, 2) << both;
}

TEST(KilnBench, HelpPrintsUsageAndEveryMode) {
  for (const char* args : {"--help", "-h", "--model iris --help"}) {
    int status = -1;
    std::string out = run_bench(args, status);
    EXPECT_EQ(status, 0) << args << "\n" << out;
    EXPECT_EQ(out.find("unknown option"), std::string::npos) << args << "\n" << out;
    for (const char* part : {"usage: kiln-bench", "--dispatch", "--model iris", "--model cnn", "--conv", "--pool", "--roof",
                             "--json", "--repetitions N", "--benchmark_filter", "KILN_NUM_THREADS"})
      EXPECT_NE(out.find(part), std::string::npos) << args << ": no '" << part << "' in\n" << out;
  }
  int status = -1;
  std::string out = run_bench("--hepl", status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("unknown option '--hepl'"), std::string::npos) << out;
  EXPECT_NE(out.find("usage: kiln-bench"), std::string::npos) << out;
}

TEST(KilnBench, UnknownModelIsRefused) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  std::string out = run_bench("--model mnist --json", status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("unknown model 'mnist'"), std::string::npos) << out;
}

}  // namespace
