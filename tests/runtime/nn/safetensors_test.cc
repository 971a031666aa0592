// Module::save / Module::load in the safetensors format: bit-identical round trips, stable keys,
// and errors for wrong shapes, dtypes, missing tensors and malformed files.
#include "kiln/nn/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/nn/layers.h"
#include "kiln/nn/sequential.h"
#include "tests/error_of.h"
#include "tests/temp_file.h"

namespace kiln::nn {
namespace {
using kiln::test::error_of;
using kiln::test::has;
using kiln::test::TempFile;

std::shared_ptr<Sequential> mlp(int64_t hidden = 5, DType dtype = DType::Float32) {
  auto model = std::make_shared<Sequential>();
  model->add(Dense(hidden, {.input_dim = 3, .dtype = dtype}));
  model->add(Dense(2, {.use_bias = false, .dtype = dtype}));
  model->add(Dense(4, {.dtype = dtype}));
  model->layer(1)(Tensor::empty(Shape{1, hidden}, dtype));  // builds layer 1
  model->layer(2)(Tensor::empty(Shape{1, 2}, dtype));       // builds layer 2
  return model;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// A safetensors file from a header and data, with the 8-byte length in front.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return s + header + data;
}

TEST(Safetensors, KeysFollowTheModuleTreeNotTheLayerNames) {
  auto a = mlp(), b = mlp();  // layer names differ ("dense_3" vs "dense_6"), keys do not
  std::vector<std::string> keys_a, keys_b;
  for (const auto& [key, v] : a->named_variables()) keys_a.push_back(key);
  for (const auto& [key, v] : b->named_variables()) keys_b.push_back(key);
  EXPECT_EQ(keys_a, (std::vector<std::string>{"0.kernel", "0.bias", "1.kernel", "2.kernel", "2.bias"}));
  EXPECT_EQ(keys_a, keys_b);
  EXPECT_NE(a->layer(0).name(), b->layer(0).name());
}

TEST(Safetensors, RoundTripIsBitIdentical) {
  auto saved = mlp();
  // Values a float-to-text round trip would lose: subnormals, -0, NaN payload, extremes.
  Variable k = saved->named_variables()[0].second;
  std::vector<float> special = k.to_vector<float>();
  special[0] = std::numeric_limits<float>::denorm_min();
  special[1] = -0.0f;
  special[2] = std::numeric_limits<float>::max();
  uint32_t nan_bits = 0x7fc01234;
  std::memcpy(&special[3], &nan_bits, 4);
  k.assign(Tensor::from_vector(special, k.shape()));
  TempFile file("model.safetensors", "");
  saved->save(file.path());

  auto loaded = mlp();
  const auto before = loaded->named_variables();
  loaded->load(file.path());
  const auto want = saved->named_variables(), got = loaded->named_variables();
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const Tensor& w = want[i].second;
    const Tensor& g = got[i].second;
    ASSERT_EQ(g.shape(), w.shape()) << want[i].first;
    EXPECT_EQ(std::memcmp(g.raw_data(), w.raw_data(), w.num_elements() * 4), 0) << want[i].first;
    EXPECT_TRUE(g.is_same(before[i].second)) << "load assigns into the existing variables";
  }
  const std::string bytes = file_bytes(file.path());
  EXPECT_TRUE(has(bytes, "\"0.kernel\":{\"dtype\":\"F32\",\"shape\":[3,5],\"data_offsets\":[0,60]}"));
  // kernel [3,5] + bias [5] + kernel [5,2] + kernel [2,4] + bias [4] floats after the header,
  // which is padded so that the data starts 8-byte aligned.
  const size_t data_bytes = 4 * (15 + 5 + 10 + 8 + 4);
  ASSERT_GT(bytes.size(), data_bytes + 8);
  EXPECT_EQ((bytes.size() - data_bytes) % 8, 0u);
}

TEST(Safetensors, EveryDtypeRoundTrips) {
  TempFile file("all.safetensors", "");
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f64", Tensor::from_vector<double>({1.25, -3}, {2})},
      {"i32", Tensor::from_vector<int32_t>({-7, 8, 9}, {3, 1})},
      {"i64", Tensor::from_vector<int64_t>({int64_t{1} << 40}, {})},
      {"b", Tensor::from_vector<bool>({true, false}, {2})},
      {"empty", Tensor::empty(Shape{0, 3}, DType::Float32)},
      {"quote\"and\\slash", Tensor::from_vector<float>({2}, {1})}};
  write_safetensors(file.path(), tensors);
  std::map<std::string, Tensor> got = read_safetensors(file.path());
  ASSERT_EQ(got.size(), tensors.size());
  EXPECT_EQ(got["f64"].to_vector<double>(), (std::vector<double>{1.25, -3}));
  EXPECT_EQ(got["i32"].shape(), (Shape{3, 1}));
  EXPECT_EQ(got["i32"].to_vector<int32_t>(), (std::vector<int32_t>{-7, 8, 9}));
  EXPECT_EQ(got["i64"].item<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(got["b"].to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_EQ(got["empty"].shape(), (Shape{0, 3}));
  EXPECT_EQ(got["quote\"and\\slash"].to_vector<float>(), (std::vector<float>{2}));
}

TEST(Safetensors, LoadNamesTheVariableAndBothShapesOrDtypes) {
  TempFile file("m.safetensors", "");
  mlp(5)->save(file.path());
  auto wider = mlp(6);
  const float before = wider->named_variables()[0].second.to_vector<float>()[0];
  EXPECT_TRUE(has(error_of([&] { wider->load(file.path()); }),
                  "variable '0.kernel' of module '" + wider->name() + "' is float32[3,6], the file has float32[3,5]"));
  EXPECT_EQ(wider->named_variables()[0].second.to_vector<float>()[0], before) << "a failed load changes nothing";

  auto f64 = mlp(5, DType::Float64);
  EXPECT_TRUE(has(error_of([&] { f64->load(file.path()); }), "variable '0.kernel' of module '" + f64->name() +
                                                                  "' is float64[3,5], the file has float32[3,5]"));

  std::vector<std::pair<std::string, Tensor>> partial;
  for (const auto& [key, v] : mlp(5)->named_variables())
    if (key != "2.bias") partial.emplace_back(key, v);
  write_safetensors(file.path(), partial);
  EXPECT_TRUE(has(error_of([&] { mlp(5)->load(file.path()); }), "no tensor for variable '2.bias' (float32[4])"));

  partial.emplace_back("2.bias", Tensor::empty(Shape{4}, DType::Float32));
  partial.emplace_back("3.kernel", Tensor::empty(Shape{4, 1}, DType::Float32));
  write_safetensors(file.path(), partial);
  EXPECT_TRUE(has(error_of([&] { mlp(5)->load(file.path()); }), "tensor '3.kernel' (float32[4,1]) matches no variable"));
}

TEST(Safetensors, DuplicatePathsAreAnErrorAtSave) {
  class Twice : public Module {
   public:
    Twice() : Module("twice") {
      add_variable("w", Tensor::empty(Shape{1}, DType::Float32));
      add_variable("w", Tensor::empty(Shape{1}, DType::Float32));
    }
  } twice;
  TempFile file("t.safetensors", "");
  EXPECT_TRUE(has(error_of([&] { twice.save(file.path()); }), "two variables have the path 'w'"));
}

// Each malformed file's error names the file and what is wrong.
void expect_read_error(const std::string& name, const std::string& bytes, const std::string& part) {
  TempFile f(name, bytes);
  const std::string message = error_of([&] { read_safetensors(f.path()); });
  EXPECT_TRUE(has(message, f.path())) << name;
  EXPECT_TRUE(has(message, part)) << name;
}

TEST(Safetensors, MalformedFilesAreErrors) {
  const std::string entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data(8, '\x01');
  expect_read_error("short", "abc", "the file has 3 bytes, too few");
  expect_read_error("long-header", safetensors_bytes("{" + entry + "}", data).substr(0, 20),
                    "the header length is 54 bytes, but the file has 12");
  std::string huge = safetensors_bytes("{}", "");
  huge[7] = '\x7f';
  expect_read_error("huge-header", huge, "the header length is");
  expect_read_error("not-json", safetensors_bytes("[1]", ""), "bad JSON header at byte 0: expected '{'");
  expect_read_error("unterminated", safetensors_bytes("{\"a", ""), "unterminated string");
  expect_read_error("missing-comma", safetensors_bytes("{" + entry + " " + entry + "}", data), "expected '}'");
  expect_read_error("trailing-text", safetensors_bytes("{" + entry + "}x", data), "unexpected text after");
  expect_read_error("bad-dtype", safetensors_bytes(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "1234"),
                    "tensor 'a' has dtype 'BF16'");
  expect_read_error("float-shape", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", data),
                    "expected an integer");
  expect_read_error("negative", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data),
                    "expected a non-negative integer");
  expect_read_error("no-offsets", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", data), "lacks data_offsets");
  expect_read_error("extra-field", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"x":1}})", data),
                    "unknown field 'x'");
  expect_read_error("duplicate", safetensors_bytes("{" + entry + "," + entry + "}", data), "'a' appears twice");
  expect_read_error("bad-metadata", safetensors_bytes(R"({"__metadata__":{"k":3}})", ""), "values must be strings");
  expect_read_error("out-of-range",
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", data),
                    "data_offsets [4,12] outside the 8 data bytes");
  expect_read_error("truncated-data", safetensors_bytes("{" + entry + "}", data.substr(0, 5)),
                    "data_offsets [0,8] outside the 5 data bytes");
  expect_read_error("wrong-length",
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data),
                    "tensor 'a' is F32[3] (12 bytes) but its data_offsets [0,8] span 8 bytes");
  expect_read_error("overlap",
                    safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
                    "overlap");
  expect_read_error("hole", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data),
                    "data bytes [0,4) belong to no tensor");
  expect_read_error("trailing-data", safetensors_bytes("{" + entry + "}", data + "xy"), "2 data bytes after the last tensor");
  expect_read_error("bad-bool", safetensors_bytes(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", "\x01\x02"),
                    "BOOL byte 1 is 2");
  EXPECT_TRUE(has(error_of([] { read_safetensors("/nonexistent/kiln.safetensors"); }), "cannot open"));
}

TEST(Safetensors, ReadsEscapesAndMetadata) {
  TempFile f("esc", safetensors_bytes(R"({"__metadata__":{"format":"pt"},)"
                                      R"( "caf\u00e9\ud83d\ude00\n" : {"shape":[],"dtype":"I32","data_offsets":[0,4]}} )",
                                      std::string("\x05\x00\x00\x00", 4)));
  std::map<std::string, Tensor> got = read_safetensors(f.path());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->first, "caf\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(got.begin()->second.item<int32_t>(), 5);
}

}  // namespace
}  // namespace kiln::nn
