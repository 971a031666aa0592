// decode_csv and read_csv: typed columns, defaults, RFC 4180 quoting, CRLF, and errors that name
// where they happened (the caller's label or file:line) and which column.
#include "kiln/data/csv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tests/error_of.h"
#include "tests/temp_file.h"

namespace kiln::data {
namespace {
using kiln::test::error_of;

using kiln::test::has;

CsvColumn required(DType dtype) { return CsvColumn{dtype, std::nullopt}; }
CsvColumn with_default(DType dtype, double value) { return CsvColumn{dtype, value}; }

using kiln::test::TempFile;

// ---------------------------------------------------------------------------------------------
// decode_csv

TEST(CsvDecode, TypedColumnsGiveScalarsOfTheirDType) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Float64),
                                       required(DType::Int32), required(DType::Int64),
                                       required(DType::Bool)};
  std::vector<Tensor> t = decode_csv("1.5, 0.1 ,-7,9000000000,true", cols);
  ASSERT_EQ(t.size(), 5u);
  const DType want[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool};
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].dtype(), want[i]) << "column " << i;
    EXPECT_EQ(t[i].rank(), 0) << "column " << i;
  }
  EXPECT_EQ(t[0].item<float>(), 1.5f);
  EXPECT_EQ(t[1].item<double>(), 0.1);  // parsed as a double, not via float
  EXPECT_EQ(t[2].item<int32_t>(), -7);
  EXPECT_EQ(t[3].item<int64_t>(), int64_t{9000000000});
  EXPECT_EQ(t[4].item<bool>(), true);
}

TEST(CsvDecode, FloatsTakeExponentsAndSigns) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Float64),
                                       required(DType::Int64)};
  std::vector<Tensor> t = decode_csv("-2.5e-3,+1E2,+42", cols);
  EXPECT_EQ(t[0].item<float>(), -2.5e-3f);
  EXPECT_EQ(t[1].item<double>(), 100.0);
  EXPECT_EQ(t[2].item<int64_t>(), 42);
}

TEST(CsvDecode, FloatsTakeInfAndNanAndFloat32Range) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Float64),
                                       required(DType::Float32)};
  std::vector<Tensor> t = decode_csv("inf,-inf,nan", cols);
  EXPECT_EQ(t[0].item<float>(), std::numeric_limits<float>::infinity());
  EXPECT_EQ(t[1].item<double>(), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(t[2].item<float>()));
  // 1e39 fits a float64 but not a float32.
  EXPECT_EQ(decode_csv("1,1e39,1", cols)[1].item<double>(), 1e39);
  const std::string msg = error_of([&] { decode_csv("1e39,1,1", cols, "r.csv:2"); });
  EXPECT_TRUE(has(msg, "r.csv:2: column 0"));
  EXPECT_TRUE(has(msg, "out of range for float32"));
}

TEST(CsvDecode, BoolSpellings) {
  const std::vector<CsvColumn> cols(6, required(DType::Bool));
  std::vector<Tensor> t = decode_csv("0,1,true,false,True,False", cols);
  const bool want[] = {false, true, true, false, true, false};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(t[i].item<bool>(), want[i]) << "column " << i;
  const std::string msg = error_of([&] { decode_csv("1,yes", {required(DType::Bool), required(DType::Bool)}, "b.csv:3"); });
  EXPECT_TRUE(has(msg, "b.csv:3"));
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "'yes'"));
}

TEST(CsvDecode, EmptyFieldsTakeTheirDefaults) {
  const std::vector<CsvColumn> cols = {with_default(DType::Float32, 0.25), with_default(DType::Float64, -1.5),
                                       with_default(DType::Int32, 7), with_default(DType::Int64, -3),
                                       with_default(DType::Bool, 1)};
  // Empty, blank-only, and an empty quoted field all count as empty.
  std::vector<Tensor> t = decode_csv(",  ,\"\",\t,", cols);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0].item<float>(), 0.25f);
  EXPECT_EQ(t[1].item<double>(), -1.5);
  EXPECT_EQ(t[2].item<int32_t>(), 7);
  EXPECT_EQ(t[3].item<int64_t>(), -3);
  EXPECT_EQ(t[4].item<bool>(), true);
  EXPECT_EQ(t[2].dtype(), DType::Int32);
  // A present field wins over the default.
  t = decode_csv("1,2,3,4,0", cols);
  EXPECT_EQ(t[0].item<float>(), 1.0f);
  EXPECT_EQ(t[2].item<int32_t>(), 3);
  EXPECT_EQ(t[4].item<bool>(), false);
}

TEST(CsvDecode, RequiredEmptyFieldErrorsNamingWhereAndColumn) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Int32),
                                       with_default(DType::Float32, 0)};
  const std::string msg = error_of([&] { decode_csv("1.0,,", cols, "train.csv:12"); });
  EXPECT_TRUE(has(msg, "train.csv:12"));
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "missing required field"));
  // Blanks alone are empty too.
  EXPECT_TRUE(has(error_of([&] { decode_csv("1.0, \t,", cols, "x"); }), "column 1"));
}

TEST(CsvDecode, TrailingCarriageReturnIsDropped) {
  const std::vector<CsvColumn> cols = {required(DType::Int32), required(DType::Int32)};
  std::vector<Tensor> t = decode_csv("1,2\r", cols);
  EXPECT_EQ(t[1].item<int32_t>(), 2);
  t = decode_csv("1,\"2\"\r", cols);  // after a quoted last field too
  EXPECT_EQ(t[1].item<int32_t>(), 2);
  // An empty last field before the '\r' still takes its default.
  t = decode_csv("5,\r", {required(DType::Int32), with_default(DType::Int32, 9)});
  EXPECT_EQ(t[1].item<int32_t>(), 9);
}

TEST(CsvDecode, QuotedFieldKeepsTheDelimiter) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Int32)};
  // "1,5" is one field: the line has two fields, and the first is the text 1,5 (not a number).
  const std::string msg = error_of([&] { decode_csv("\"1,5\",2", cols, "q.csv:2"); });
  EXPECT_TRUE(has(msg, "q.csv:2"));
  EXPECT_TRUE(has(msg, "column 0"));
  EXPECT_TRUE(has(msg, "'1,5' is not a number"));
  EXPECT_EQ(msg.find("fields"), std::string::npos) << msg;
  // With another delimiter a quoted comma-free number parses, and the quoted ';' stays inside.
  std::vector<Tensor> t = decode_csv("\"1.5\";  \"3\" ", cols, "semi", ';');
  EXPECT_EQ(t[0].item<float>(), 1.5f);
  EXPECT_EQ(t[1].item<int32_t>(), 3);
  EXPECT_TRUE(has(error_of([&] { decode_csv("\"1;5\";2", cols, "semi", ';'); }), "'1;5'"));
}

TEST(CsvDecode, DoubledQuotesInsideQuotesAreOneQuote) {
  const std::vector<CsvColumn> cols = {required(DType::Int32), required(DType::Int32)};
  const std::string msg = error_of([&] { decode_csv("\"4\"\"2\",1", cols, "dq"); });
  EXPECT_TRUE(has(msg, "column 0"));
  EXPECT_TRUE(has(msg, "'4\"2'")) << msg;  // one quote between 4 and 2, not two
  EXPECT_EQ(msg.find("4\"\"2"), std::string::npos) << msg;
}

TEST(CsvDecode, MalformedQuotesError) {
  const std::vector<CsvColumn> cols = {required(DType::Int32), required(DType::Int32)};
  std::string msg = error_of([&] { decode_csv("1,\"2", cols, "uq.csv:4"); });
  EXPECT_TRUE(has(msg, "uq.csv:4"));
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "unterminated"));
  msg = error_of([&] { decode_csv("\"1\"x,2", cols, "tq"); });
  EXPECT_TRUE(has(msg, "column 0"));
  EXPECT_TRUE(has(msg, "after a closing quote"));
}

TEST(CsvDecode, WrongFieldCountErrors) {
  const std::vector<CsvColumn> cols(3, required(DType::Float32));
  std::string msg = error_of([&] { decode_csv("1,2", cols, "few.csv:8"); });
  EXPECT_TRUE(has(msg, "few.csv:8"));
  EXPECT_TRUE(has(msg, "expected 3 fields, got 2"));
  msg = error_of([&] { decode_csv("1,2,3,4", cols, "many.csv:9"); });
  EXPECT_TRUE(has(msg, "many.csv:9"));
  EXPECT_TRUE(has(msg, "expected 3 fields, got 4"));
  // A trailing delimiter makes one more (empty) field.
  EXPECT_TRUE(has(error_of([&] { decode_csv("1,2,3,", cols); }), "got 4"));
}

TEST(CsvDecode, TextForAFloatErrors) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Float32),
                                       required(DType::Float64)};
  std::string msg = error_of([&] { decode_csv("1,2,abc", cols, "iris.csv:12"); });
  EXPECT_TRUE(has(msg, "iris.csv:12"));
  EXPECT_TRUE(has(msg, "column 2"));
  EXPECT_TRUE(has(msg, "'abc' is not a number"));
  // A number followed by text is not a number either; nor is a number with a comma in it.
  EXPECT_TRUE(has(error_of([&] { decode_csv("1,2.5kg,3", cols, "w"); }), "column 1: '2.5kg'"));
  EXPECT_TRUE(has(error_of([&] { decode_csv("1,2,--3", cols, "w"); }), "column 2"));
  // The default label is decode_csv.
  EXPECT_TRUE(has(error_of([&] { decode_csv("x,2,3", cols); }), "decode_csv: column 0"));
}

TEST(CsvDecode, DecimalForAnIntErrors) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Int32),
                                       required(DType::Int64)};
  std::string msg = error_of([&] { decode_csv("0.5,1.5,2", cols, "ints.csv:3"); });
  EXPECT_TRUE(has(msg, "ints.csv:3"));
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "'1.5' is not an integer"));
  msg = error_of([&] { decode_csv("0.5,1,1e3", cols, "ints.csv:4"); });
  EXPECT_TRUE(has(msg, "column 2"));
  EXPECT_TRUE(has(msg, "'1e3'"));
}

TEST(CsvDecode, OutOfRangeIntErrors) {
  const std::vector<CsvColumn> cols = {required(DType::Int64), required(DType::Int32)};
  std::vector<Tensor> t = decode_csv("0,2147483647", cols);
  EXPECT_EQ(t[1].item<int32_t>(), 2147483647);
  t = decode_csv("0,-2147483648", cols);
  EXPECT_EQ(t[1].item<int32_t>(), -2147483647 - 1);

  std::string msg = error_of([&] { decode_csv("0,2147483648", cols, "big.csv:5"); });
  EXPECT_TRUE(has(msg, "big.csv:5"));
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "out of range for int32"));
  msg = error_of([&] { decode_csv("0,-2147483649", cols, "big.csv:6"); });
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "out of range"));
  // The same text fits int64.
  EXPECT_EQ(decode_csv("2147483648,0", cols)[0].item<int64_t>(), int64_t{2147483648});
  msg = error_of([&] { decode_csv("9223372036854775808,0", cols, "big.csv:7"); });
  EXPECT_TRUE(has(msg, "column 0"));
  EXPECT_TRUE(has(msg, "out of range for int64"));
}

TEST(CsvDecode, NonIntegerDefaultForAnIntColumnErrors) {
  const std::string msg =
      error_of([&] { decode_csv("1,", {required(DType::Int32), with_default(DType::Int32, 2.5)}, "d"); });
  EXPECT_TRUE(has(msg, "column 1"));
  EXPECT_TRUE(has(msg, "2.5"));
}

TEST(CsvDecode, NoColumnsErrors) {
  EXPECT_TRUE(has(error_of([] { decode_csv("1", {}, "none"); }), "none"));
}

// ---------------------------------------------------------------------------------------------
// read_csv

TEST(CsvRead, SkipsHeaderLinesAndBlankLines) {
  const TempFile file("data.csv", "x,label\n# units: cm\n1.5,0\n\n2.5,1\n  \t \n3.5,2\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 2;
  std::vector<Tensor> cols = read_csv(path, {required(DType::Float32), required(DType::Int64)}, options);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[0].shape(), Shape{3});
  EXPECT_EQ(cols[0].dtype(), DType::Float32);
  EXPECT_EQ(cols[1].dtype(), DType::Int64);
  EXPECT_EQ(cols[0].to_vector<float>(), (std::vector<float>{1.5f, 2.5f, 3.5f}));
  EXPECT_EQ(cols[1].to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2}));
}

TEST(CsvRead, WithoutHeaderLinesTheFirstLineIsData) {
  const TempFile file("data.csv", "1,2\n3,4");  // no final newline either
  const std::string& path = file.path();
  std::vector<Tensor> cols = read_csv(path, {required(DType::Int32), required(DType::Int32)});
  EXPECT_EQ(cols[0].to_vector<int32_t>(), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(cols[1].to_vector<int32_t>(), (std::vector<int32_t>{2, 4}));
}

TEST(CsvRead, CrlfFile) {
  const TempFile file("crlf.csv", "a,b,c\r\n1.25,7,\r\n\r\n-2,8,true\r\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 1;
  std::vector<Tensor> cols =
      read_csv(path, {required(DType::Float64), required(DType::Int32), with_default(DType::Bool, 0)}, options);
  EXPECT_EQ(cols[0].to_vector<double>(), (std::vector<double>{1.25, -2}));
  EXPECT_EQ(cols[1].to_vector<int32_t>(), (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(cols[2].to_vector<bool>(), (std::vector<bool>{false, true}));
}

TEST(CsvRead, MalformedLineNamesFileAndLineCountingHeaderAndBlankLines) {
  // Line 1 and 2 are the header, 3 data, 4 blank, 5 data, 6 bad.
  const TempFile file("bad.csv", "h1,h2\nh3,h4\n1,2\n\n3,4\n5,oops\n7,8\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 2;
  const std::string msg = error_of([&] { read_csv(path, {required(DType::Int32), required(DType::Float32)}, options); });
  EXPECT_TRUE(has(msg, path + ":6: column 1"));
  EXPECT_TRUE(has(msg, "'oops'"));
}

TEST(CsvRead, WrongFieldCountNamesFileAndLine) {
  const TempFile file("short.csv", "a,b\r\n1,2\r\n3\r\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 1;
  const std::string msg = error_of([&] { read_csv(path, {required(DType::Int32), required(DType::Int32)}, options); });
  EXPECT_TRUE(has(msg, path + ":3: expected 2 fields, got 1"));
}

TEST(CsvRead, MissingFileNamesThePath) {
  const std::string path = testing::TempDir() + "kiln-no-such-dir/no-such-file.csv";
  const std::string msg = error_of([&] { read_csv(path, {required(DType::Float32)}); });
  EXPECT_TRUE(has(msg, path));
  EXPECT_TRUE(has(msg, "cannot open"));
}

TEST(CsvRead, DirectoryIsNotAFile) {
  const std::string msg = error_of([&] { read_csv(testing::TempDir(), {required(DType::Float32)}); });
  EXPECT_TRUE(has(msg, "directory"));
}

TEST(CsvRead, HeaderOnlyGivesZeroRowsWhenAllowed) {
  const TempFile file("empty.csv", "x,y\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 1;
  options.allow_empty = true;
  std::vector<Tensor> cols = read_csv(path, {required(DType::Float32), required(DType::Int32)}, options);
  EXPECT_EQ(cols[0].shape(), Shape{0});
  EXPECT_EQ(cols[1].shape(), Shape{0});
  EXPECT_EQ(cols[1].dtype(), DType::Int32);
}

TEST(CsvRead, NoDataRowsIsAnErrorNamingTheFileAndWhatItHolds) {
  const std::vector<CsvColumn> cols = {required(DType::Float32), required(DType::Int32)};
  CsvOptions header;
  header.header_lines = 1;
  const TempFile empty("empty.csv", "");
  std::string msg = error_of([&] { read_csv(empty.path(), cols, header); });
  EXPECT_TRUE(has(msg, empty.path() + ": no data rows (the file is empty; header_lines = 1)")) << msg;
  EXPECT_TRUE(has(msg, "allow_empty")) << msg;
  const TempFile header_only("header.csv", "x,y\n");
  msg = error_of([&] { read_csv(header_only.path(), cols, header); });
  EXPECT_TRUE(has(msg, header_only.path() + ": no data rows (1 line: the header; header_lines = 1)")) << msg;
  // Header lines, then blank ones (CRLF and spaces are blank too).
  const TempFile blank("blank.csv", "x,y\r\nunits\n\n  \r\n");
  header.header_lines = 2;
  msg = error_of([&] { read_csv(blank.path(), cols, header); });
  EXPECT_TRUE(has(msg, blank.path() + ": no data rows (4 lines: 2 header lines and 2 blank ones; header_lines = 2)"))
      << msg;
  // One data row is enough.
  const TempFile one_row("one.csv", "x,y\n1.5,2\n");
  header.header_lines = 1;
  EXPECT_EQ(read_csv(one_row.path(), cols, header)[1].to_vector<int32_t>(), std::vector<int32_t>{2});
}

TEST(CsvRead, ByteOrderMarkIsDropped) {
  const TempFile file("bom.csv", "\xEF\xBB\xBF" "4,5\n");
  const std::string& path = file.path();
  std::vector<Tensor> cols = read_csv(path, {required(DType::Int32), required(DType::Int32)});
  EXPECT_EQ(cols[0].to_vector<int32_t>(), (std::vector<int32_t>{4}));
}

TEST(CsvRead, OtherDelimiter) {
  const TempFile file("tab.tsv", "1\t 2\n3 \t4\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.delimiter = '\t';
  std::vector<Tensor> cols = read_csv(path, {required(DType::Int32), required(DType::Int32)}, options);
  EXPECT_EQ(cols[0].to_vector<int32_t>(), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(cols[1].to_vector<int32_t>(), (std::vector<int32_t>{2, 4}));
}

TEST(CsvRead, NegativeHeaderLinesErrors) {
  const TempFile file("x.csv", "1\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = -1;
  EXPECT_TRUE(has(error_of([&] { read_csv(path, {required(DType::Int32)}, options); }), "header_lines"));
}

const char* const kIris = KILN_SOURCE_DIR "/examples/iris/data/iris.csv";

std::vector<CsvColumn> iris_columns() {
  std::vector<CsvColumn> cols(4, required(DType::Float32));
  cols.push_back(required(DType::Int32));
  return cols;
}

TEST(CsvRead, ShippedIrisFile) {
  CsvOptions options;
  options.header_lines = 1;
  std::vector<Tensor> cols = read_csv(kIris, iris_columns(), options);
  ASSERT_EQ(cols.size(), 5u);
  for (const Tensor& c : cols) EXPECT_EQ(c.shape(), Shape{150});
  const std::vector<int32_t> labels = cols[4].to_vector<int32_t>();
  for (int32_t k = 0; k < 3; ++k) EXPECT_EQ(std::count(labels.begin(), labels.end(), k), 50) << "label " << k;
  EXPECT_TRUE(std::all_of(labels.begin(), labels.end(), [](int32_t k) { return k >= 0 && k <= 2; }));
  // The first data row, 5.1,3.5,1.4,0.2,0.
  EXPECT_EQ(cols[0].to_vector<float>()[0], 5.1f);
  EXPECT_EQ(cols[1].to_vector<float>()[0], 3.5f);
  EXPECT_EQ(cols[2].to_vector<float>()[0], 1.4f);
  EXPECT_EQ(cols[3].to_vector<float>()[0], 0.2f);
  for (int c = 0; c < 4; ++c) {
    for (float v : cols[c].to_vector<float>()) EXPECT_TRUE(std::isfinite(v) && v > 0 && v < 10) << v;
  }
}

TEST(CsvRead, IrisHeaderIsLineOne) {
  // Without skipping it, the header "150,4,setosa,..." fails at its third field.
  const std::string msg = error_of([&] { read_csv(kIris, iris_columns()); });
  EXPECT_TRUE(has(msg, "iris.csv:1: column 2"));
  EXPECT_TRUE(has(msg, "'setosa'"));
}

// ---------------------------------------------------------------------------------------------
// CsvLineReader

TEST(CsvLineReaderTest, WhereNamesTheLastLineRead) {
  const TempFile file("lines.csv", "head\n\na\r\n \nb");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 1;
  CsvLineReader reader(path, options);
  std::string line;
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line, "a");  // the '\r' is gone
  EXPECT_EQ(reader.where(), path + ":3");
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line, "b");
  EXPECT_EQ(reader.where(), path + ":5");
  EXPECT_FALSE(reader.next(line));
}

}  // namespace
}  // namespace kiln::data
