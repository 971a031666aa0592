// The mnist_cnn example end to end on a few hundred images (--limit): the article's epoch lines,
// test accuracy, the three figures, eager and compiled alike, save/load, other data directories
// and bad arguments. Sanity only: the full run's accuracy is docs/performance.md's business.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/program_run.h"

namespace {
namespace fs = std::filesystem;
using kiln::test::ProgramRun;

const char* kFashion = "/usr/share/datasets/fashion-mnist";

ProgramRun run_cnn(const std::string& args) { return kiln::test::run_program("examples/mnist_cnn/mnist_cnn", args); }

// A fresh directory under the test temp dir, removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(testing::TempDir() + "kiln-" + std::to_string(::getpid()) + "-" + name) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

double number_after(const std::string& output, const std::string& key) {
  const size_t at = output.rfind(key);
  return at == std::string::npos ? -1.0 : std::stod(output.substr(at + key.size()));
}

bool is_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.good() && std::string(magic + 1, 3) == "PNG" && fs::file_size(path) > 1000;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

#define SKIP_WITHOUT_FASHION_MNIST()                                                           \
  if (!fs::exists(std::string(kFashion) + "/train-images-idx3-ubyte.gz"))                      \
  GTEST_SKIP() << "dataset-fashion-mnist is not installed (tools/kiln setup installs it)"

TEST(MnistCnnExample, ShortCompiledRunPrintsEpochsAndWritesFigures) {
  SKIP_WITHOUT_FASHION_MNIST();
  TempDir out("cnn-figures");
  // 240 training images in batches of 50: a last batch of 40, which the step's one compiled code
  // serves (Note [One compiled code for every size]).
  ProgramRun r = run_cnn("--limit 300 --epochs 2 --batch 50 --out " + out.path());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("train [240,28,28,1], valid [60,28,28,1], test [300,28,28,1] (compiled steps)"),
            std::string::npos)
      << r.output;
  for (const char* epoch : {"epoch: 1  train/loss: ", "epoch: 2  train/loss: "})
    EXPECT_NE(r.output.find(epoch), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("valid/accuracy: "), std::string::npos);
  EXPECT_NE(r.output.find("train_step traced 1 time, compiled 1 time)"), std::string::npos) << r.output;
  const double accuracy = number_after(r.output, "test/accuracy: ");
  // 2 epochs on 240 images: well above chance (0.1), far from trained.
  EXPECT_GT(accuracy, 0.3) << r.output;
  EXPECT_LE(accuracy, 1.0);
  EXPECT_TRUE(is_png(out.path() + "/confusion.png"));
  EXPECT_TRUE(is_png(out.path() + "/predictions.png"));
  const std::string table = read_text(out.path() + "/confusion.txt");
  EXPECT_NE(table.find("Ankle boot"), std::string::npos) << table;
  EXPECT_NE(table.find("T-shirt/top"), std::string::npos) << table;
}

TEST(MnistCnnExample, EagerAndCompiledRunsAgree) {
  SKIP_WITHOUT_FASHION_MNIST();
  TempDir out("cnn-agree");
  ProgramRun eager = run_cnn("--eager --limit 200 --epochs 1 --batch 40 --out " + out.path());
  ProgramRun compiled = run_cnn("--compiled --limit 200 --epochs 1 --batch 40 --out " + out.path());
  ASSERT_EQ(eager.status, 0) << eager.output;
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  EXPECT_NE(eager.output.find("(eager steps)"), std::string::npos);
  for (const char* key : {"train/loss: ", "valid/loss: "}) {
    const double e = number_after(eager.output, key), c = number_after(compiled.output, key);
    EXPECT_NEAR(e, c, 1e-3 * e) << key << "\n" << eager.output << compiled.output;
  }
  EXPECT_NEAR(number_after(eager.output, "test/accuracy: "), number_after(compiled.output, "test/accuracy: "), 0.011);
}

TEST(MnistCnnExample, SavedWeightsReloadToTheSameAccuracy) {
  SKIP_WITHOUT_FASHION_MNIST();
  TempDir out("cnn-save");
  const std::string weights = out.path() + "/cnn.safetensors";
  ProgramRun trained = run_cnn("--limit 200 --epochs 1 --batch 50 --save " + weights + " --out " + out.path());
  ASSERT_EQ(trained.status, 0) << trained.output;
  ProgramRun loaded = run_cnn("--limit 200 --load " + weights + " --out " + out.path());
  ASSERT_EQ(loaded.status, 0) << loaded.output;
  EXPECT_EQ(loaded.output.find("epoch: "), std::string::npos) << "--load alone trains nothing\n" << loaded.output;
  EXPECT_EQ(number_after(loaded.output, "test/accuracy: "), number_after(trained.output, "test/accuracy: "))
      << trained.output << loaded.output;
}

// Writes an IDX file: magic 00 00 08 rank, big-endian dims, then bytes.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  const char magic[4] = {0, 0, 8, static_cast<char>(dims.size())};
  out.write(magic, 4);
  for (uint32_t d : dims) {
    const char be[4] = {static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8), static_cast<char>(d)};
    out.write(be, 4);
  }
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// --data DIR takes any directory of MNIST-named files (here plain, not gzip): digit class names.
TEST(MnistCnnExample, ReadsAnyMnistLayoutDirectory) {
  TempDir data("cnn-digits");
  const uint32_t n = 20;
  std::vector<uint8_t> pixels(n * 28 * 28), labels(n);
  for (uint32_t i = 0; i < n; ++i) {
    labels[i] = static_cast<uint8_t>(i % 10);
    for (uint32_t p = 0; p < 28 * 28; ++p) pixels[i * 28 * 28 + p] = static_cast<uint8_t>((p * (i + 1)) % 256);
  }
  for (const char* split : {"train", "t10k"}) {
    write_idx(data.path() + "/" + split + "-images-idx3-ubyte", {n, 28, 28}, pixels);
    write_idx(data.path() + "/" + split + "-labels-idx1-ubyte", {n}, labels);
  }
  ProgramRun r = run_cnn("--epochs 1 --batch 8 --data " + data.path() + " --out " + data.path() + "/out");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string table = read_text(data.path() + "/out/confusion.txt");
  EXPECT_NE(table.find("true\\pred"), std::string::npos) << table;
  EXPECT_EQ(table.find("Ankle boot"), std::string::npos) << table;
}

TEST(MnistCnnExample, BadArgumentsAndDataAreReported) {
  ProgramRun r = run_cnn("--batch zero");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--batch needs a non-negative integer, got 'zero'"), std::string::npos) << r.output;
  r = run_cnn("--frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("unknown option or missing value: '--frobnicate'"), std::string::npos) << r.output;
  r = run_cnn("--batch 0");
  EXPECT_EQ(r.status, 2);
  TempDir empty("cnn-empty");
  r = run_cnn("--data " + empty.path());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("train-images-idx3-ubyte"), std::string::npos) << r.output;
}

}  // namespace
