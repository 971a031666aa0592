// kiln-bench on the iris example: `--model iris --json` reports the eager and the compiled step,
// their ratio and the compile time (speed itself belongs to the benchmark, not to this test).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

std::string run_bench(const std::string& args, int& status) {
  std::string cmd = std::string(KILN_BINARY_DIR) + "/tools/kiln-bench " + args + " 2>&1";
  std::string output;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return output;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) output.append(buf.data(), n);
  int s = pclose(pipe);
  status = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  return output;
}

// The number after `"key": ` in a flat JSON object; -1 when the key is missing.
double json_number(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\": ");
  return at == std::string::npos ? -1.0 : std::stod(json.substr(at + key.size() + 4));
}

TEST(KilnBench, IrisJsonReportsEagerAndCompiledSteps) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  std::string out = run_bench("--model iris --json --repetitions 1", status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\"model\": \"iris\""), std::string::npos) << out;
  EXPECT_EQ(json_number(out, "batch"), 16) << out;
  const double eager = json_number(out, "eager_us"), compiled = json_number(out, "compiled_us");
  EXPECT_GT(eager, 0) << out;
  EXPECT_GT(compiled, 0) << out;
  EXPECT_NEAR(json_number(out, "speedup"), eager / compiled, 0.01 + 0.01 * eager / compiled) << out;
  EXPECT_GT(json_number(out, "compile_ms"), 0) << out;
  EXPECT_GT(json_number(out, "disk_cache_ms"), 0) << out;
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

TEST(KilnBench, UnknownModelIsRefused) {
  if (!std::filesystem::exists(std::string(KILN_BINARY_DIR) + "/tools/kiln-bench"))
    GTEST_SKIP() << "kiln-bench is not built in " << KILN_BINARY_DIR;
  int status = -1;
  std::string out = run_bench("--model mnist --json", status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("unknown model 'mnist'"), std::string::npos) << out;
}

}  // namespace
