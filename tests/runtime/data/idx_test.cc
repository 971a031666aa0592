// read_idx and load_mnist: hand-built IDX files, plain and gzip, every malformed header and
// payload, and the real Fashion-MNIST test split when it is installed.
#include "kiln/data/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/error_of.h"
#include "tests/temp_file.h"

namespace kiln::data {
namespace {
using kiln::test::error_of;
using kiln::test::has;
using kiln::test::TempFile;

// An IDX file: magic 00 00 type rank, big-endian uint32 dims, then `payload` as given.
std::string idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string s = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  return s + payload;
}

std::string bytes_of(const std::vector<int>& values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

// `plain` compressed as one gzip member, as gzip(1) writes it.
std::string gzip(const std::string& plain) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, plain.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(ReadIdx, UnsignedBytesBecomeInt32WithTheFileShape) {
  TempFile f("a.idx", idx_bytes(0x08, {2, 3}, bytes_of({0, 1, 127, 128, 200, 255})));
  Tensor t = read_idx(f.path());
  EXPECT_EQ(t.dtype(), DType::Int32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 127, 128, 200, 255}));
}

TEST(ReadIdx, GzipFilesAreDecompressed) {
  TempFile f("a.idx.gz", gzip(idx_bytes(0x08, {4}, bytes_of({9, 8, 7, 250}))));
  Tensor t = read_idx(f.path());
  EXPECT_EQ(t.shape(), (Shape{4}));
  EXPECT_EQ(t.to_vector<int32_t>(), (std::vector<int32_t>{9, 8, 7, 250}));
}

TEST(ReadIdx, OtherElementTypesAreBigEndian) {
  TempFile s8("s8", idx_bytes(0x09, {2}, bytes_of({0xff, 0x05})));
  EXPECT_EQ(read_idx(s8.path()).to_vector<int32_t>(), (std::vector<int32_t>{-1, 5}));
  TempFile s16("s16", idx_bytes(0x0B, {2}, bytes_of({0x01, 0x02, 0xff, 0xfe})));
  EXPECT_EQ(read_idx(s16.path()).to_vector<int32_t>(), (std::vector<int32_t>{258, -2}));
  TempFile s32("s32", idx_bytes(0x0C, {1}, bytes_of({0x00, 0x01, 0x00, 0x00})));
  EXPECT_EQ(read_idx(s32.path()).to_vector<int32_t>(), (std::vector<int32_t>{65536}));
  TempFile f32("f32", idx_bytes(0x0D, {1}, bytes_of({0x3f, 0xc0, 0x00, 0x00})));
  Tensor f = read_idx(f32.path());
  EXPECT_EQ(f.dtype(), DType::Float32);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{1.5f}));
  TempFile f64("f64", idx_bytes(0x0E, {1}, bytes_of({0xc0, 0x04, 0, 0, 0, 0, 0, 0})));
  Tensor d = read_idx(f64.path());
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(d.to_vector<double>(), (std::vector<double>{-2.5}));
}

// Each malformed file's error names the file and the numbers that are wrong.
void expect_idx_error(const std::string& name, const std::string& bytes, const std::string& part) {
  TempFile f(name, bytes);
  const std::string message = error_of([&] { read_idx(f.path()); });
  EXPECT_TRUE(has(message, f.path())) << name;
  EXPECT_TRUE(has(message, part)) << name;
}

TEST(ReadIdx, MalformedHeadersNameTheFileAndTheValues) {
  expect_idx_error("bad-magic", bytes_of({0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7}),
                   "bad magic number: the first two bytes are 0x1f 0x00");
  expect_idx_error("bad-type", idx_bytes(0x07, {1}, "x"), "unknown element type code 0x07");
  expect_idx_error("zero-rank", idx_bytes(0x08, {}, ""), "the header says 0 dimensions");
  expect_idx_error("zero-dim", idx_bytes(0x08, {3, 0}, ""), "dimension 1 is 0");
  expect_idx_error("short-magic", bytes_of({0, 0, 8}), "truncated header: the file has 3 bytes");
  expect_idx_error("short-dims", bytes_of({0, 0, 8, 3, 0, 0, 0, 2, 0, 0}),
                   "truncated header: 3 dimensions need 16 header bytes, the file has 10");
  expect_idx_error("too-many-dims", idx_bytes(0x08, std::vector<uint32_t>(9, 1), "x"), "9 dimensions");
  expect_idx_error("overflow", idx_bytes(0x08, {0xffffffff, 0xffffffff, 0xffffffff}, ""),
                   "the element count overflows at dimension 1 (4294967295)");
}

TEST(ReadIdx, PayloadLengthMustMatchTheDimensions) {
  expect_idx_error("truncated", idx_bytes(0x08, {2, 3}, "abcde"),
                   "truncated payload: shape [2,3] of unsigned byte needs 6 bytes after the 12-byte header, "
                   "the file has 5");
  expect_idx_error("trailing", idx_bytes(0x08, {2}, "abcd"), "2 trailing bytes");
  expect_idx_error("truncated-int16", idx_bytes(0x0B, {2}, "abc"), "needs 4 bytes");
  // The same checks apply to what a gzip file decompresses to.
  expect_idx_error("trailing.gz", gzip(idx_bytes(0x08, {2}, "abc")), "1 trailing bytes");
}

TEST(ReadIdx, CorruptOrTruncatedGzipIsAnError) {
  const std::string good = gzip(idx_bytes(0x08, {64}, std::string(64, 'a')));
  std::string corrupt = good;
  for (size_t i = 10; i < corrupt.size() - 8; ++i) corrupt[i] = static_cast<char>(~corrupt[i]);
  expect_idx_error("corrupt.gz", corrupt, "corrupt gzip data");
  expect_idx_error("truncated.gz", good.substr(0, good.size() - 6), "corrupt gzip data");
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 6] = static_cast<char>(~bad_crc[bad_crc.size() - 6]);
  expect_idx_error("crc.gz", bad_crc, "corrupt gzip data");
}

TEST(ReadIdx, MissingFilesAndDirectoriesAreErrors) {
  EXPECT_TRUE(has(error_of([] { read_idx("/nonexistent/kiln/x.idx"); }),
                  "read_idx: /nonexistent/kiln/x.idx: cannot open: No such file or directory"));
  EXPECT_TRUE(has(error_of([] { read_idx(testing::TempDir()); }), "is a directory"));
}

// A directory of MNIST-named files under the test temp dir, removed at the end.
class MnistDir {
 public:
  MnistDir() {
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = testing::TempDir() + "kiln-mnist-" + std::to_string(::getpid()) + "-" + info->name();
    std::filesystem::create_directories(path_);
  }
  ~MnistDir() { std::filesystem::remove_all(path_); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path_ + "/" + name, std::ios::binary) << bytes;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadMnist, ScalesImagesAndMixesPlainAndGzipFiles) {
  MnistDir dir;
  dir.write("train-images-idx3-ubyte.gz", gzip(idx_bytes(0x08, {2, 1, 2}, bytes_of({0, 255, 51, 102}))));
  dir.write("train-labels-idx1-ubyte", idx_bytes(0x08, {2}, bytes_of({3, 9})));
  dir.write("t10k-images-idx3-ubyte", idx_bytes(0x08, {1, 2, 1}, bytes_of({255, 0})));
  dir.write("t10k-labels-idx1-ubyte.gz", gzip(idx_bytes(0x08, {1}, bytes_of({7}))));
  MnistData data = load_mnist(dir.path());
  EXPECT_EQ(data.train_images.dtype(), DType::Float32);
  EXPECT_EQ(data.train_images.shape(), (Shape{2, 1, 2, 1}));
  EXPECT_EQ(data.train_images.to_vector<float>(), (std::vector<float>{0.0f, 1.0f, 0.2f, 0.4f}));
  EXPECT_EQ(data.train_labels.dtype(), DType::Int32);
  EXPECT_EQ(data.train_labels.to_vector<int32_t>(), (std::vector<int32_t>{3, 9}));
  EXPECT_EQ(data.test_images.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(data.test_labels.to_vector<int32_t>(), (std::vector<int32_t>{7}));
}

TEST(LoadMnist, ErrorsNameTheFileAndTheDirectory) {
  MnistDir dir;
  dir.write("train-images-idx3-ubyte", idx_bytes(0x08, {2, 1, 1}, "ab"));
  EXPECT_TRUE(has(error_of([&] { load_mnist(dir.path()); }),
                  "neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte.gz is in " + dir.path()));
  dir.write("train-labels-idx1-ubyte", idx_bytes(0x08, {3}, "abc"));
  EXPECT_TRUE(has(error_of([&] { load_mnist(dir.path()); }), "2 images in"));
  dir.write("train-labels-idx1-ubyte", idx_bytes(0x0C, {2}, std::string(8, '\0')));
  EXPECT_TRUE(has(error_of([&] { load_mnist(dir.path()); }), "expected unsigned-byte labels [N], got type code 0x0c"));
  dir.write("train-images-idx3-ubyte", idx_bytes(0x08, {2, 1}, "ab"));
  EXPECT_TRUE(has(error_of([&] { load_mnist(dir.path()); }), "expected unsigned-byte images [N, rows, cols]"));
  EXPECT_TRUE(has(error_of([] { load_mnist("/nonexistent/kiln-mnist"); }), "/nonexistent/kiln-mnist is not a directory"));
}

TEST(LoadMnist, ReadsTheInstalledFashionMnistTestSplit) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << dir << " is not installed";
  auto [images, labels] = load_mnist_split(dir, "t10k");
  EXPECT_EQ(images.shape(), (Shape{10000, 28, 28, 1}));
  ASSERT_EQ(labels.shape(), (Shape{10000}));
  std::vector<int64_t> per_class(10, 0);
  for (int32_t y : labels.to_vector<int32_t>()) {
    ASSERT_GE(y, 0);
    ASSERT_LE(y, 9);
    ++per_class[y];
  }
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 1000) << "class " << c;  // the test split is balanced
  float lo = 1, hi = 0;
  for (float p : images.to_vector<float>()) lo = std::min(lo, p), hi = std::max(hi, p);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
}

}  // namespace
}  // namespace kiln::data
