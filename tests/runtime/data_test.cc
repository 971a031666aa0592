// The input pipeline: decode_csv and read_csv (types, defaults, quoting, CRLF, every error with
// its file and line), and Dataset's stages with exact values, orders and cardinalities.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/data/csv.h"
#include "kiln/data/dataset.h"
#include "kiln/ops.h"
#include "tests/error_of.h"

namespace kiln::data {
namespace {
using kiln::test::error_of;

const CsvColumn kF32{DType::Float32, std::nullopt};
const CsvColumn kF64{DType::Float64, std::nullopt};
const CsvColumn kI32{DType::Int32, std::nullopt};
const CsvColumn kI64{DType::Int64, std::nullopt};
const CsvColumn kBool{DType::Bool, std::nullopt};

// A fresh directory per test under the system's temp dir, removed afterwards.
class DataFiles : public testing::Test {
 protected:
  void SetUp() override {
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-data-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Writes `text` byte for byte (no newline translation) and returns the path.
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

// Every element's single component, as int64 values, for one pass.
std::vector<int64_t> values_of(const Dataset& ds) {
  std::vector<int64_t> out;
  for (const Element& e : ds) {
    EXPECT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].rank(), 0);
    out.push_back(e[0].item<int64_t>());
  }
  return out;
}

Dataset range(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return Dataset::from_tensor_slices({Tensor::from_vector(v)});
}

std::vector<int64_t> iota(int64_t n, int64_t from = 0) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}

// ---- decode_csv ----

TEST(DataCsv, DecodesEachColumnToItsDtype) {
  std::vector<Tensor> t = decode_csv(" 1.5,-2.25e1 ,  -7,true,9000000000,+3", {kF32, kF64, kI32, kBool, kI64, kI32});
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[0].dtype(), DType::Float32);
  EXPECT_EQ(t[1].dtype(), DType::Float64);
  EXPECT_EQ(t[2].dtype(), DType::Int32);
  EXPECT_EQ(t[3].dtype(), DType::Bool);
  EXPECT_EQ(t[4].dtype(), DType::Int64);
  for (const Tensor& x : t) EXPECT_EQ(x.rank(), 0);
  EXPECT_EQ(t[0].item<float>(), 1.5f);
  EXPECT_EQ(t[1].item<double>(), -22.5);
  EXPECT_EQ(t[2].item<int32_t>(), -7);
  EXPECT_TRUE(t[3].item<bool>());
  EXPECT_EQ(t[4].item<int64_t>(), 9000000000LL);
  EXPECT_EQ(t[5].item<int32_t>(), 3);
}

TEST(DataCsv, ParsesNumbersExactlyAndAtTheLimits) {
  std::vector<Tensor> t = decode_csv("0.1,0.1,-2147483648,2147483647,-9223372036854775808,inf,False,0",
                                     {kF32, kF64, kI32, kI32, kI64, kF64, kBool, kBool});
  EXPECT_EQ(t[0].item<float>(), 0.1f);
  EXPECT_EQ(t[1].item<double>(), 0.1);
  EXPECT_EQ(t[2].item<int32_t>(), INT32_MIN);
  EXPECT_EQ(t[3].item<int32_t>(), INT32_MAX);
  EXPECT_EQ(t[4].item<int64_t>(), INT64_MIN);
  EXPECT_TRUE(std::isinf(t[5].item<double>()));
  EXPECT_FALSE(t[6].item<bool>());
  EXPECT_FALSE(t[7].item<bool>());
}

TEST(DataCsv, EmptyFieldsTakeTheirDefaults) {
  std::vector<CsvColumn> cols = {{DType::Float32, 0.5}, {DType::Int32, -3}, {DType::Bool, 1.0}, {DType::Int64, 7}};
  std::vector<Tensor> t = decode_csv(",  ,,", cols);
  EXPECT_EQ(t[0].item<float>(), 0.5f);
  EXPECT_EQ(t[1].item<int32_t>(), -3);
  EXPECT_TRUE(t[2].item<bool>());
  EXPECT_EQ(t[3].item<int64_t>(), 7);
  // A present field wins over the default.
  t = decode_csv("2,4,0,\"\"", cols);
  EXPECT_EQ(t[0].item<float>(), 2.0f);
  EXPECT_EQ(t[1].item<int32_t>(), 4);
  EXPECT_FALSE(t[2].item<bool>());
  EXPECT_EQ(t[3].item<int64_t>(), 7);  // a quoted empty field is empty too
}

TEST(DataCsv, QuotedFieldsFollowRfc4180) {
  std::vector<Tensor> t = decode_csv("\"1.25\", \"2\" ,3", {kF32, kI32, kI32});
  EXPECT_EQ(t[0].item<float>(), 1.25f);
  EXPECT_EQ(t[1].item<int32_t>(), 2);
  EXPECT_EQ(t[2].item<int32_t>(), 3);
  // The comma inside quotes does not split: two fields, the first '1,5'.
  EXPECT_EQ(error_of([] {
              decode_csv("\"1,5\",2", {kF32, kF32}, "q.csv:3");
            }),
            "q.csv:3: column 0: '1,5' is not a number");
  // "" inside quotes is one quote.
  EXPECT_EQ(error_of([] { decode_csv("\"a\"\"b\"", {kF32}, "q.csv:4"); }), "q.csv:4: column 0: 'a\"b' is not a number");
}

TEST(DataCsv, DropsTheCarriageReturnOfCrlfLines) {
  std::vector<Tensor> t = decode_csv("1,2\r", {kI32, kI32});
  EXPECT_EQ(t[1].item<int32_t>(), 2);
  t = decode_csv("1,\r", {kI32, {DType::Int32, 9.0}});
  EXPECT_EQ(t[1].item<int32_t>(), 9);
}

TEST(DataCsv, OtherDelimiters) {
  std::vector<Tensor> t = decode_csv("1;2.5", {kI32, kF64}, "x", ';');
  EXPECT_EQ(t[0].item<int32_t>(), 1);
  EXPECT_EQ(t[1].item<double>(), 2.5);
  t = decode_csv("4\t5", {kI32, kI32}, "x", '\t');
  EXPECT_EQ(t[1].item<int32_t>(), 5);
}

TEST(DataCsv, ErrorsNameWhereColumnAndValue) {
  std::vector<CsvColumn> iris = {kF32, kF32, kF32, kF32, kI32};
  EXPECT_EQ(error_of([&] { decode_csv("5.1,3.5,1.4,abc,0", iris, "iris.csv:7"); }),
            "iris.csv:7: column 3: 'abc' is not a number");
  EXPECT_EQ(error_of([&] { decode_csv("5.1,3.5,1.4,0", iris, "iris.csv:9"); }), "iris.csv:9: expected 5 fields, got 4");
  EXPECT_EQ(error_of([&] { decode_csv("5.1,3.5,1.4,0.2,0,1", iris, "iris.csv:10"); }),
            "iris.csv:10: expected 5 fields, got 6");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "iris.csv:11: column 1: missing required field",
                      error_of([&] { decode_csv("5.1,,1.4,0.2,0", iris, "iris.csv:11"); }));
  EXPECT_EQ(error_of([&] { decode_csv("5.1,3.5,1.4,0.2,1.5", iris, "iris.csv:12"); }),
            "iris.csv:12: column 4: '1.5' is not an integer");
  EXPECT_EQ(error_of([&] { decode_csv("1e3", {kI64}, "f:1"); }), "f:1: column 0: '1e3' is not an integer");
  EXPECT_EQ(error_of([&] { decode_csv("2147483648", {kI32}, "f:2"); }),
            "f:2: column 0: '2147483648' is out of range for int32");
  EXPECT_EQ(error_of([&] { decode_csv("-9223372036854775809", {kI64}, "f:3"); }),
            "f:3: column 0: '-9223372036854775809' is out of range for int64");
  EXPECT_EQ(error_of([&] { decode_csv("1e39", {kF32}, "f:4"); }), "f:4: column 0: '1e39' is out of range for float32");
  EXPECT_EQ(error_of([&] { decode_csv("1.5x", {kF64}, "f:5"); }), "f:5: column 0: '1.5x' is not a number");
  EXPECT_EQ(error_of([&] { decode_csv("0x10", {kI32}, "f:6"); }), "f:6: column 0: '0x10' is not an integer");
  EXPECT_EQ(error_of([&] { decode_csv("1 2", {kI32}, "f:7"); }), "f:7: column 0: '1 2' is not an integer");
  EXPECT_EQ(error_of([&] { decode_csv("yes", {kBool}, "f:8"); }),
            "f:8: column 0: 'yes' is not a bool (0, 1, true or false)");
  EXPECT_EQ(error_of([&] { decode_csv("1,\"2", {kI32, kI32}, "f:9"); }), "f:9: column 1: unterminated quoted field");
  EXPECT_EQ(error_of([&] { decode_csv("\"2\"3", {kI32}, "f:10"); }),
            "f:10: column 0: unexpected text after a closing quote: '3'");
  EXPECT_EQ(error_of([&] { decode_csv("", {kI32, kI32}, "f:11"); }), "f:11: expected 2 fields, got 1");
  EXPECT_EQ(error_of([&] {
              decode_csv("", {{DType::Int32, 1.5}}, "f:12");
            }),
            "f:12: column 0: default 1.5 is not an int32");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "at least one column", error_of([&] { decode_csv("1", {}, "f:13"); }));
}

// ---- read_csv ----

TEST_F(DataFiles, DataCsvReadSkipsHeaderAndBlankLinesAndHandlesCrlf) {
  std::string path = write("small.csv",
                           "\xEF\xBB\xBFx,y,label\r\n"
                           "1.5,-2,0\r\n"
                           "\r\n"
                           "  \r\n"
                           "\"2.5\",3,1\r\n"
                           "3.5,,2");  // no newline at the end; y has a default
  std::vector<Tensor> cols = read_csv(path, {kF32, {DType::Int64, 10.0}, kI32}, {.header_lines = 1});
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(cols[0].shape(), (Shape{3}));
  EXPECT_EQ(cols[0].to_vector<float>(), (std::vector<float>{1.5f, 2.5f, 3.5f}));
  EXPECT_EQ(cols[1].dtype(), DType::Int64);
  EXPECT_EQ(cols[1].to_vector<int64_t>(), (std::vector<int64_t>{-2, 3, 10}));
  EXPECT_EQ(cols[2].dtype(), DType::Int32);
  EXPECT_EQ(cols[2].to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 2}));
}

TEST_F(DataFiles, DataCsvReadWithoutHeaderAndWithAnotherDelimiter) {
  std::string path = write("semi.csv", "1;2\n3;4\n");
  std::vector<Tensor> cols = read_csv(path, {kI32, kF64}, {.delimiter = ';'});
  EXPECT_EQ(cols[0].to_vector<int32_t>(), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(cols[1].to_vector<double>(), (std::vector<double>{2, 4}));
}

TEST_F(DataFiles, DataCsvReadOfOnlyAHeaderGivesEmptyColumns) {
  std::string path = write("empty.csv", "a,b\n");
  std::vector<Tensor> cols = read_csv(path, {kF32, kI32}, {.header_lines = 1});
  EXPECT_EQ(cols[0].shape(), (Shape{0}));
  EXPECT_EQ(cols[1].shape(), (Shape{0}));
  EXPECT_EQ(cols[1].dtype(), DType::Int32);
}

TEST_F(DataFiles, DataCsvReadErrorsNameFileAndLine) {
  // Line numbers count every line of the file from 1: the header, and the blank line too.
  std::string path = write("bad.csv", "a,b\n1,2\n\n3,x\n");
  EXPECT_EQ(error_of([&] {
              read_csv(path, {kI32, kI32}, {.header_lines = 1});
            }),
            path + ":4: column 1: 'x' is not an integer");
  path = write("short.csv", "1,2\r\n3\r\n");
  EXPECT_EQ(error_of([&] { read_csv(path, {kI32, kI32}); }), path + ":2: expected 2 fields, got 1");
  std::string missing = (dir_ / "missing.csv").string();
  EXPECT_EQ(error_of([&] { read_csv(missing, {kI32}); }), missing + ": cannot open: No such file or directory");
  EXPECT_EQ(error_of([&] { read_csv(dir_.string(), {kI32}); }), dir_.string() + ": cannot open: is a directory");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "header_lines must be >= 0",
                      error_of([&] { read_csv(path, {kI32}, {.header_lines = -1}); }));
}

TEST(DataCsv, ReadsTheIrisFile) {
  const std::string path = KILN_SOURCE_DIR "/examples/iris/data/iris.csv";
  std::vector<CsvColumn> cols(4, kF32);
  cols.push_back(kI32);
  std::vector<Tensor> t = read_csv(path, cols, {.header_lines = 1});
  ASSERT_EQ(t.size(), 5u);
  for (const Tensor& c : t) EXPECT_EQ(c.shape(), (Shape{150}));
  EXPECT_EQ(t[0].to_vector<float>()[0], 5.1f);  // the first row: 5.1,3.5,1.4,0.2,0
  EXPECT_EQ(t[3].to_vector<float>()[0], 0.2f);
  std::vector<int32_t> labels = t[4].to_vector<int32_t>();
  for (int32_t k = 0; k < 3; ++k) EXPECT_EQ(std::count(labels.begin(), labels.end(), k), 50) << "label " << k;
  EXPECT_EQ(labels.back(), 2);
}

// ---- Dataset sources ----

TEST(DataDataset, FromTensorSlicesYieldsRowsOfEveryComponent) {
  Tensor x = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, Shape{3, 2});
  Tensor y = Tensor::from_vector(std::vector<int32_t>{7, 8, 9});
  Dataset ds = Dataset::from_tensor_slices({x, y});
  EXPECT_EQ(ds.cardinality(), 3);
  int64_t i = 0;
  for (const Element& e : ds) {
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].shape(), (Shape{2}));
    EXPECT_EQ(e[0].to_vector<float>(), (std::vector<float>{2.0f * i, 2.0f * i + 1}));
    EXPECT_EQ(e[1].shape(), (Shape{}));
    EXPECT_EQ(e[1].dtype(), DType::Int32);
    EXPECT_EQ(e[1].item<int32_t>(), 7 + i);
    ++i;
  }
  EXPECT_EQ(i, 3);
}

TEST(DataDataset, FromTensorSlicesChecksItsComponents) {
  Tensor a = zeros(Shape{3, 2}), b = zeros(Shape{4});
  EXPECT_EQ(error_of([&] {
              Dataset::from_tensor_slices({a, b});
            }),
            "Dataset.from_tensor_slices: component 1 has shape [4] but component 0 has [3,2] (dimension 0 must match)");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "component 0 is a scalar",
                      error_of([&] { Dataset::from_tensor_slices({Tensor::scalar(1.0f)}); }));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "no components", error_of([&] { Dataset::from_tensor_slices({}); }));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "component 1 is an undefined", error_of([&] {
                        Dataset::from_tensor_slices({a, Tensor()});
                      }));
}

TEST(DataDataset, FromTensorsIsOneElement) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3});
  Dataset ds = Dataset::from_tensors({a, Tensor::scalar(int32_t{4})});
  EXPECT_EQ(ds.cardinality(), 1);
  int n = 0;
  for (const Element& e : ds) {
    EXPECT_EQ(e[0].to_vector<float>(), (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(e[1].item<int32_t>(), 4);
    ++n;
  }
  EXPECT_EQ(n, 1);
}

TEST(DataDataset, HoldsASnapshotOfAVariableNotTheVariable) {
  Variable v(Tensor::from_vector(std::vector<float>{1, 2}));
  Dataset ds = Dataset::from_tensor_slices({v});
  v.assign(Tensor::from_vector(std::vector<float>{5, 6}));
  std::vector<float> seen;
  for (const Element& e : ds) {
    EXPECT_FALSE(e[0].is_variable());
    seen.push_back(e[0].item<float>());
  }
  EXPECT_EQ(seen, (std::vector<float>{1, 2}));
  for (const Element& e : Dataset::from_tensors({v})) EXPECT_FALSE(e[0].is_variable());
}

// ---- batch ----

TEST(DataDataset, BatchKeepsTheRemainderUnlessDropped) {
  Tensor x = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{5, 2});
  Tensor y = Tensor::from_vector(std::vector<int64_t>{10, 11, 12, 13, 14});
  Dataset ds = Dataset::from_tensor_slices({x, y});

  Dataset kept = ds.batch(2);
  EXPECT_EQ(kept.cardinality(), 3);
  std::vector<Element> batches(kept.begin(), kept.end());
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0][0].shape(), (Shape{2, 2}));
  EXPECT_EQ(batches[0][0].to_vector<float>(), (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(batches[1][0].to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(batches[2][0].shape(), (Shape{1, 2}));
  EXPECT_EQ(batches[2][0].to_vector<float>(), (std::vector<float>{8, 9}));
  EXPECT_EQ(batches[0][1].shape(), (Shape{2}));
  EXPECT_EQ(batches[0][1].dtype(), DType::Int64);
  EXPECT_EQ(batches[1][1].to_vector<int64_t>(), (std::vector<int64_t>{12, 13}));
  EXPECT_EQ(batches[2][1].to_vector<int64_t>(), (std::vector<int64_t>{14}));

  Dataset dropped = ds.batch(2, /*drop_remainder=*/true);
  EXPECT_EQ(dropped.cardinality(), 2);
  std::vector<Element> full(dropped.begin(), dropped.end());
  ASSERT_EQ(full.size(), 2u);
  EXPECT_EQ(full[1][0].to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(full[1][1].to_vector<int64_t>(), (std::vector<int64_t>{12, 13}));

  // A batch larger than the dataset: one short batch, or none.
  EXPECT_EQ(ds.batch(8).cardinality(), 1);
  EXPECT_EQ(std::distance(ds.batch(8).begin(), ds.batch(8).end()), 1);
  EXPECT_EQ(ds.batch(8, true).cardinality(), 0);
  EXPECT_EQ(ds.batch(8, true).begin(), ds.batch(8, true).end());
}

TEST(DataDataset, BatchOfBatchesAddsADimension) {
  Dataset ds = range(8).batch(2).batch(2);
  std::vector<Element> b(ds.begin(), ds.end());
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1][0].shape(), (Shape{2, 2}));
  EXPECT_EQ(b[1][0].to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6, 7}));
}

TEST(DataDataset, BatchRejectsMismatchedElements) {
  // Element i holds i+1 values: the second element cannot stack onto the first.
  Dataset ragged = range(3).map([](const Element& e) { return Element{zeros(Shape{e[0].item<int64_t>() + 1})}; });
  EXPECT_EQ(error_of([&] {
              for (const Element& b : ragged.batch(2)) (void)b;
            }),
            "Dataset.batch: component 0: element 1 is float32[2] but element 0 is float32[1] (stacking needs equal "
            "shapes and dtypes)");
  Dataset mixed = range(2).map([](const Element& e) {
    return e[0].item<int64_t>() == 0 ? Element{zeros(Shape{1})} : Element{zeros(Shape{1}), zeros(Shape{1})};
  });
  EXPECT_EQ(error_of([&] {
              for (const Element& b : mixed.batch(2)) (void)b;
            }),
            "Dataset.batch: element 1 has 2 components but element 0 has 1");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "batch_size must be positive, got 0", error_of([&] { range(3).batch(0); }));
}

TEST(DataDataset, BatchingIsNotRecordedByATape) {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4});
  GradientTape tape;
  tape.watch(x);
  Dataset ds = Dataset::from_tensor_slices({x}).batch(2);
  Tensor first = (*ds.begin())[0];
  Tensor y = reduce_sum(first);
  EXPECT_FALSE(tape.gradient(y, x).defined());
}

// ---- shuffle ----

TEST(DataDataset, ShuffleIsAPermutationDeterminedBySeed) {
  Dataset a = range(100).shuffle(100, /*seed=*/42);
  std::vector<int64_t> first = values_of(a);
  std::vector<int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, iota(100));
  EXPECT_NE(first, iota(100));
  // A dataset built the same way gives the same order; another seed another.
  EXPECT_EQ(values_of(range(100).shuffle(100, 42)), first);
  EXPECT_NE(values_of(range(100).shuffle(100, 43)), first);
  EXPECT_EQ(a.cardinality(), 100);
}

TEST(DataDataset, ShuffleReshufflesEachPassUnlessAskedNotTo) {
  Dataset a = range(50).shuffle(50, 7);
  std::vector<int64_t> p0 = values_of(a), p1 = values_of(a);
  EXPECT_NE(p0, p1);
  std::sort(p1.begin(), p1.end());
  EXPECT_EQ(p1, iota(50));

  Dataset fixed = range(50).shuffle(50, 7, /*reshuffle_each_iteration=*/false);
  std::vector<int64_t> f0 = values_of(fixed);
  EXPECT_EQ(values_of(fixed), f0);
  EXPECT_EQ(f0, p0);  // the first pass is the same either way

  // A copy shares the passes: it continues the sequence rather than restarting it.
  Dataset copy = range(50).shuffle(50, 7);
  values_of(copy);
  Dataset copy2 = copy;
  EXPECT_NE(values_of(copy2), p0);
}

TEST(DataDataset, ShuffleWithASmallBufferOnlyReordersWithinTheBuffer) {
  // A buffer of 1 keeps the order; a buffer of 3 can only emit element i at output position
  // i-2 or later, and every element is emitted once.
  EXPECT_EQ(values_of(range(20).shuffle(1, 5)), iota(20));
  std::vector<int64_t> out = values_of(range(20).shuffle(3, 5));
  for (size_t pos = 0; pos < out.size(); ++pos) EXPECT_LE(out[pos], static_cast<int64_t>(pos) + 2) << pos;
  EXPECT_NE(out, iota(20));
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, iota(20));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "buffer_size must be positive", error_of([] { range(3).shuffle(0, 1); }));
}

TEST(DataDataset, ShuffleUnderRepeatReshufflesEachRepetition) {
  std::vector<int64_t> all = values_of(range(30).shuffle(30, 3).repeat(2));
  ASSERT_EQ(all.size(), 60u);
  std::vector<int64_t> r0(all.begin(), all.begin() + 30), r1(all.begin() + 30, all.end());
  EXPECT_NE(r0, r1);
  std::sort(r0.begin(), r0.end());
  std::sort(r1.begin(), r1.end());
  EXPECT_EQ(r0, iota(30));
  EXPECT_EQ(r1, iota(30));
  // Without reshuffling both repetitions match.
  std::vector<int64_t> same = values_of(range(30).shuffle(30, 3, false).repeat(2));
  EXPECT_TRUE(std::equal(same.begin(), same.begin() + 30, same.begin() + 30));
}

TEST(DataDataset, ShuffleKeepsComponentsOfAnElementTogether) {
  Tensor x = Tensor::from_vector(iota(40)), y = Tensor::from_vector(iota(40, 1000));
  for (const auto& [a, b] : Dataset::from_tensor_slices({x, y}).shuffle(16, 9).unpacked<2>())
    EXPECT_EQ(b.item<int64_t>(), a.item<int64_t>() + 1000);
}

// ---- repeat, take, skip ----

TEST(DataDataset, RepeatTakeAndSkip) {
  EXPECT_EQ(values_of(range(3).repeat(3)), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(range(3).repeat(3).cardinality(), 9);
  EXPECT_EQ(values_of(range(3).repeat().take(7)), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_EQ(values_of(range(3).repeat(0)), std::vector<int64_t>{});
  EXPECT_EQ(values_of(range(5).take(2)), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(values_of(range(5).take(9)), iota(5));
  EXPECT_EQ(values_of(range(5).take(0)), std::vector<int64_t>{});
  EXPECT_EQ(values_of(range(5).skip(2)), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(values_of(range(5).skip(5)), std::vector<int64_t>{});
  EXPECT_EQ(values_of(range(5).skip(9)), std::vector<int64_t>{});
  EXPECT_EQ(values_of(range(10).skip(2).take(3)), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(values_of(range(4).take(2).repeat(2)), (std::vector<int64_t>{0, 1, 0, 1}));
  // An empty input repeated forever ends instead of spinning.
  EXPECT_EQ(values_of(range(0).repeat()), std::vector<int64_t>{});
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "count must be >= -1, got -2", error_of([] { range(3).repeat(-2); }));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "count must be >= 0", error_of([] { range(3).take(-1); }));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "count must be >= 0", error_of([] { range(3).skip(-1); }));
}

TEST(DataDataset, EachPassStartsAgain) {
  Dataset ds = range(4).skip(1).take(2);
  EXPECT_EQ(values_of(ds), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(values_of(ds), (std::vector<int64_t>{1, 2}));
}

// ---- map ----

TEST(DataDataset, MapTransformsElementsAndMayChangeTheirArity) {
  Dataset ds = range(4).map([](const Element& e) {
    return Element{e[0] * Tensor::scalar(int64_t{10}), cast(e[0], DType::Float32)};
  });
  std::vector<int64_t> tens;
  std::vector<float> floats;
  for (const auto& [a, b] : ds.unpacked<2>()) {
    tens.push_back(a.item<int64_t>());
    floats.push_back(b.item<float>());
  }
  EXPECT_EQ(tens, (std::vector<int64_t>{0, 10, 20, 30}));
  EXPECT_EQ(floats, (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(ds.cardinality(), 4);

  std::vector<Element> batched(ds.batch(3).begin(), ds.batch(3).end());
  ASSERT_EQ(batched.size(), 2u);
  EXPECT_EQ(batched[0][0].to_vector<int64_t>(), (std::vector<int64_t>{0, 10, 20}));
  EXPECT_EQ(batched[1][1].to_vector<float>(), (std::vector<float>{3}));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "empty function", error_of([] { range(3).map(nullptr); }));
}

TEST(DataDataset, UnpackedChecksTheArity) {
  EXPECT_EQ(error_of([] {
              for (const auto& [a, b] : range(2).unpacked<2>()) (void)a, (void)b;
            }),
            "Dataset.unpacked<2>: an element has 1 components, not 2");
}

TEST(DataDataset, IteratorIsAnInputIterator) {
  static_assert(std::input_iterator<Dataset::iterator>);
  static_assert(std::input_iterator<Dataset::Unpacked<2>::iterator>);
  Dataset ds = range(2);
  Dataset::iterator it = ds.begin();
  EXPECT_EQ((*it)[0].item<int64_t>(), 0);
  EXPECT_EQ(it->size(), 1u);
  it++;
  EXPECT_EQ((*it)[0].item<int64_t>(), 1);
  ++it;
  EXPECT_EQ(it, ds.end());
}

// ---- cardinality ----

TEST_F(DataFiles, DataDatasetCardinalityIsKnownOnlyWhenItCanBe) {
  std::string path = write("c.csv", "1\n2\n");
  Dataset csv = Dataset::csv(path, {kI32});
  EXPECT_EQ(csv.cardinality(), std::nullopt);
  EXPECT_EQ(csv.map([](const Element& e) { return e; }).batch(2).cardinality(), std::nullopt);
  EXPECT_EQ(csv.take(0).cardinality(), 0);
  EXPECT_EQ(csv.repeat().cardinality(), Dataset::kInfinite);
  EXPECT_EQ(range(10).repeat().cardinality(), Dataset::kInfinite);
  EXPECT_EQ(range(10).repeat().batch(3).cardinality(), Dataset::kInfinite);
  EXPECT_EQ(range(10).repeat().skip(3).cardinality(), Dataset::kInfinite);
  EXPECT_EQ(range(10).repeat().take(4).cardinality(), 4);
  EXPECT_EQ(range(0).repeat().cardinality(), 0);
  EXPECT_EQ(range(10).skip(3).take(5).shuffle(4, 1).batch(2).cardinality(), 3);
  EXPECT_EQ(range(10).batch(3, true).cardinality(), 3);
  EXPECT_EQ(range(10).batch(3).cardinality(), 4);
}

// ---- CSV datasets ----

TEST_F(DataFiles, DataDatasetCsvYieldsOneScalarTuplePerLine) {
  std::string path = write("ds.csv", "f,label\r\n0.5,1\r\n\r\n1.5,2\r\n");
  Dataset ds = Dataset::csv(path, {kF32, kI32}, {.header_lines = 1});
  for (int pass = 0; pass < 2; ++pass) {  // the file is read again on each pass
    std::vector<float> f;
    std::vector<int32_t> label;
    for (const auto& [x, y] : ds.unpacked<2>()) {
      EXPECT_EQ(x.rank(), 0);
      EXPECT_EQ(y.dtype(), DType::Int32);
      f.push_back(x.item<float>());
      label.push_back(y.item<int32_t>());
    }
    EXPECT_EQ(f, (std::vector<float>{0.5f, 1.5f}));
    EXPECT_EQ(label, (std::vector<int32_t>{1, 2}));
  }
  std::vector<Element> b(ds.batch(4).begin(), ds.batch(4).end());
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0][1].to_vector<int32_t>(), (std::vector<int32_t>{1, 2}));
}

TEST_F(DataFiles, DataDatasetCsvErrorsNameFileAndLine) {
  std::string path = write("bad.csv", "h\n1\n2\nthree\n4\n");
  Dataset ds = Dataset::csv(path, {kI64}, {.header_lines = 1});
  std::vector<int64_t> seen;
  EXPECT_EQ(error_of([&] {
              for (const Element& e : ds) seen.push_back(e[0].item<int64_t>());
            }),
            path + ":4: column 0: 'three' is not an integer");
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2}));
  std::string missing = (dir_ / "nope.csv").string();
  EXPECT_EQ(error_of([&] { Dataset::csv(missing, {kI64}); }), missing + ": cannot open: No such file or directory");
}

TEST(DataDataset, TheIrisPipelineOfTheTutorial) {
  std::vector<CsvColumn> cols(4, kF32);
  cols.push_back(kI32);
  Dataset ds = Dataset::csv(KILN_SOURCE_DIR "/examples/iris/data/iris.csv", cols, {.header_lines = 1})
                   .map([](const Element& row) {
                     std::vector<Tensor> f(row.begin(), row.begin() + 4);
                     for (Tensor& t : f) t = reshape(t, {1});
                     return Element{concat(f, 0), row[4]};
                   })
                   .shuffle(1000, 1)
                   .batch(32);
  int64_t rows = 0, batches = 0;
  std::vector<int64_t> per_label(3, 0);
  for (const auto& [x, y] : ds.unpacked<2>()) {
    EXPECT_EQ(x.dim(1), 4);
    EXPECT_EQ(x.dim(0), y.dim(0));
    rows += x.dim(0);
    ++batches;
    for (int32_t k : y.to_vector<int32_t>()) ++per_label.at(static_cast<size_t>(k));
  }
  EXPECT_EQ(rows, 150);
  EXPECT_EQ(batches, 5);
  EXPECT_EQ(per_label, (std::vector<int64_t>{50, 50, 50}));
}

}  // namespace
}  // namespace kiln::data
