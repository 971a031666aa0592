// Dataset: each stage's exact values and shapes, shuffle orders (permutations, seeds, passes,
// repetitions), cardinalities, CSV lines with file:line errors, and iterator lifetimes.
#include "kiln/data/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/ops.h"
#include "tests/error_of.h"
#include "tests/temp_file.h"

namespace kiln::data {
namespace {
using kiln::test::error_of;

using kiln::test::has;

// 0, 1, ..., n-1 as an int64 tensor of shape [n].
Tensor iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return Tensor::from_vector(v);
}

std::vector<int64_t> iota_vector(int64_t n) { return iota(n).to_vector<int64_t>(); }

// One pass over a dataset of rank-0 single-component elements, as int64 values.
std::vector<int64_t> values_of(const Dataset& ds) {
  std::vector<int64_t> out;
  for (const Element& e : ds) {
    EXPECT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].rank(), 0);
    out.push_back(e[0].item<int64_t>());
  }
  return out;
}

// One pass, every element's component 0 flattened to int64 values (for batches).
std::vector<std::vector<int64_t>> batches_of(const Dataset& ds) {
  std::vector<std::vector<int64_t>> out;
  for (const Element& e : ds) out.push_back(e.at(0).to_vector<int64_t>());
  return out;
}

bool is_permutation_of_iota(std::vector<int64_t> v, int64_t n) {
  std::sort(v.begin(), v.end());
  return v == iota_vector(n);
}

using kiln::test::TempFile;

// ---------------------------------------------------------------------------------------------
// Sources

TEST(DatasetSlices, ElementsAreRowsOfEveryComponent) {
  const Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, Shape{3, 2});
  const Tensor y = Tensor::from_vector<int32_t>({10, 11, 12});
  Dataset ds = Dataset::from_tensor_slices({x, y});
  EXPECT_EQ(ds.cardinality(), 3);
  int64_t i = 0;
  for (const Element& e : ds) {
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].shape(), Shape{2});
    EXPECT_EQ(e[0].dtype(), DType::Float32);
    EXPECT_EQ(e[0].to_vector<float>(), (std::vector<float>{2.0f * i, 2.0f * i + 1}));
    EXPECT_EQ(e[1].rank(), 0);
    EXPECT_EQ(e[1].dtype(), DType::Int32);
    EXPECT_EQ(e[1].item<int32_t>(), 10 + i);
    ++i;
  }
  EXPECT_EQ(i, 3);
}

TEST(DatasetSlices, HigherRankComponent) {
  std::vector<double> v(2 * 3 * 4);
  std::iota(v.begin(), v.end(), 0.0);
  Dataset ds = Dataset::from_tensor_slices({Tensor::from_vector(v, Shape{2, 3, 4})});
  std::vector<Element> all(ds.begin(), ds.end());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1][0].shape(), (Shape{3, 4}));
  EXPECT_EQ(all[1][0].to_vector<double>(), std::vector<double>(v.begin() + 12, v.end()));
}

TEST(DatasetSlices, MismatchedDimZeroErrors) {
  const Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, Shape{3, 2});
  const Tensor y = Tensor::from_vector<int32_t>({1, 2, 3, 4});
  const std::string msg = error_of([&] { Dataset::from_tensor_slices({x, y}); });
  EXPECT_TRUE(has(msg, "Dataset.from_tensor_slices"));
  EXPECT_TRUE(has(msg, "component 1"));
  EXPECT_TRUE(has(msg, "[4]"));
  EXPECT_TRUE(has(msg, "[3,2]"));
}

TEST(DatasetSlices, ScalarOrNoComponentsError) {
  EXPECT_TRUE(has(error_of([] { Dataset::from_tensor_slices({iota(3), Tensor::scalar<float>(1)}); }),
                  "component 1 is a scalar"));
  EXPECT_TRUE(has(error_of([] { Dataset::from_tensor_slices({}); }), "no components"));
  EXPECT_TRUE(has(error_of([] { Dataset::from_tensor_slices({Tensor()}); }), "undefined"));
}

TEST(DatasetSlices, EmptyDimZeroGivesNoElements) {
  Dataset ds = Dataset::from_tensor_slices({Tensor::from_vector<float>({}, Shape{0, 3})});
  EXPECT_EQ(ds.cardinality(), 0);
  EXPECT_TRUE(ds.begin() == ds.end());
}

TEST(DatasetSlices, ElementsDoNotAliasTheSource) {
  Tensor x = Tensor::from_vector<int64_t>({1, 2, 3});
  Dataset ds = Dataset::from_tensor_slices({x});
  for (const Element& e : ds) *e[0].data<int64_t>() = 100;  // scribble on each element
  EXPECT_EQ(x.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(values_of(ds), (std::vector<int64_t>{1, 2, 3}));
}

TEST(DatasetFromTensors, OneElementOfTheWholeTensors) {
  const Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, Shape{3, 2});
  Dataset ds = Dataset::from_tensors({x, Tensor::scalar<int64_t>(7)});
  EXPECT_EQ(ds.cardinality(), 1);
  std::vector<Element> all(ds.begin(), ds.end());
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].size(), 2u);
  EXPECT_EQ(all[0][0].shape(), (Shape{3, 2}));
  EXPECT_EQ(all[0][0].to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(all[0][1].item<int64_t>(), 7);
  // from_tensors(...).repeat(n) repeats the whole tensors.
  EXPECT_EQ(std::distance(ds.repeat(3).begin(), ds.repeat(3).end()), 3);
}

// ---------------------------------------------------------------------------------------------
// map

TEST(DatasetMap, AppliesTheFunctionToEveryElement) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, Shape{2, 2});
  Dataset ds = Dataset::from_tensor_slices({x, iota(2)}).map([](const Element& e) -> Element {
    return {e[0] * 10.0, e[1], e[1]};  // the component count may change
  });
  EXPECT_EQ(ds.cardinality(), 2);
  std::vector<Element> all(ds.begin(), ds.end());
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(all[0].size(), 3u);
  EXPECT_EQ(all[0][0].to_vector<float>(), (std::vector<float>{10, 20}));
  EXPECT_EQ(all[1][0].to_vector<float>(), (std::vector<float>{30, 40}));
  EXPECT_EQ(all[1][2].item<int64_t>(), 1);
}

TEST(DatasetMap, RunsLazilyOncePerElementPerPass) {
  int calls = 0;
  Dataset ds = Dataset::from_tensor_slices({iota(4)}).map([&calls](const Element& e) {
    ++calls;
    return e;
  });
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(values_of(ds.take(2)), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(calls, 2);
  values_of(ds);
  EXPECT_EQ(calls, 6);
}

TEST(DatasetMap, EmptyFunctionAndThrowingFunctionError) {
  Dataset ds = Dataset::from_tensor_slices({iota(3)});
  EXPECT_TRUE(has(error_of([&] { ds.map(nullptr); }), "Dataset.map"));
  Dataset bad = ds.map([](const Element& e) -> Element {
    KILN_CHECK(e[0].item<int64_t>() != 1, "my map: element 1 is bad");
    return e;
  });
  EXPECT_TRUE(has(error_of([&] { values_of(bad); }), "my map: element 1 is bad"));
}

// ---------------------------------------------------------------------------------------------
// batch

TEST(DatasetBatch, KeepsTheSmallerLastBatch) {
  Dataset ds = Dataset::from_tensor_slices({iota(7)}).batch(3);
  EXPECT_EQ(ds.cardinality(), 3);
  std::vector<Element> all(ds.begin(), ds.end());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0][0].shape(), Shape{3});
  EXPECT_EQ(all[2][0].shape(), Shape{1});
  EXPECT_EQ(all[0][0].dtype(), DType::Int64);
  EXPECT_EQ(batches_of(ds), (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5}, {6}}));
}

TEST(DatasetBatch, DropRemainder) {
  Dataset ds = Dataset::from_tensor_slices({iota(7)}).batch(3, /*drop_remainder=*/true);
  EXPECT_EQ(ds.cardinality(), 2);
  EXPECT_EQ(batches_of(ds), (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5}}));
  // An exact fit keeps every batch, with or without drop_remainder.
  EXPECT_EQ(batches_of(Dataset::from_tensor_slices({iota(6)}).batch(3, true)).size(), 2u);
  EXPECT_EQ(Dataset::from_tensor_slices({iota(6)}).batch(3).cardinality(), 2);
  // Fewer elements than one batch: nothing when dropping.
  EXPECT_EQ(batches_of(Dataset::from_tensor_slices({iota(2)}).batch(3, true)).size(), 0u);
  EXPECT_EQ(Dataset::from_tensor_slices({iota(2)}).batch(3, true).cardinality(), 0);
}

TEST(DatasetBatch, StacksEveryComponentAlongANewDimZero) {
  const Tensor x = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{5, 2});
  const Tensor y = Tensor::from_vector<int32_t>({0, 1, 2, 0, 1});
  Dataset ds = Dataset::from_tensor_slices({x, y}).batch(2);
  std::vector<Element> all(ds.begin(), ds.end());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0][0].shape(), (Shape{2, 2}));
  EXPECT_EQ(all[0][1].shape(), Shape{2});
  EXPECT_EQ(all[1][0].to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(all[1][1].to_vector<int32_t>(), (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(all[2][0].shape(), (Shape{1, 2}));
  EXPECT_EQ(all[2][0].to_vector<float>(), (std::vector<float>{8, 9}));
  EXPECT_EQ(all[2][1].to_vector<int32_t>(), (std::vector<int32_t>{1}));
  // Batching twice nests: [2, 2, 2].
  std::vector<Element> nested(ds.batch(2).begin(), ds.batch(2).end());
  ASSERT_FALSE(nested.empty());
  EXPECT_EQ(nested[0][0].shape(), (Shape{2, 2, 2}));
}

TEST(DatasetBatch, MismatchedShapesError) {
  // Element i is a vector of i + 1 zeros, so elements 0 and 1 differ in shape.
  Dataset ragged = Dataset::from_tensor_slices({iota(4)}).map([](const Element& e) -> Element {
    return {Tensor::from_vector(std::vector<float>(static_cast<size_t>(e[0].item<int64_t>() + 1), 0.0f))};
  });
  Dataset ds = ragged.batch(2);
  const std::string msg = error_of([&] { values_of(ds); });
  EXPECT_TRUE(has(msg, "Dataset.batch"));
  EXPECT_TRUE(has(msg, "element 1"));
  EXPECT_TRUE(has(msg, "[2]"));
  EXPECT_TRUE(has(msg, "[1]"));
  // batch(1) never stacks different shapes.
  EXPECT_EQ(batches_of(ragged.batch(1)).size(), 4u);
}

TEST(DatasetBatch, MismatchedDTypesOrComponentCountsError) {
  Dataset dtypes = Dataset::from_tensor_slices({iota(2)}).map([](const Element& e) -> Element {
    if (e[0].item<int64_t>() == 0) return {Tensor::scalar<float>(0)};
    return {Tensor::scalar<int32_t>(1)};
  });
  EXPECT_TRUE(has(error_of([&] { batches_of(dtypes.batch(2)); }), "float32"));
  Dataset counts = Dataset::from_tensor_slices({iota(2)}).map([](const Element& e) -> Element {
    if (e[0].item<int64_t>() == 0) return {e[0]};
    return {e[0], e[0]};
  });
  EXPECT_TRUE(has(error_of([&] { batches_of(counts.batch(2)); }), "components"));
}

TEST(DatasetBatch, NonPositiveSizeErrors) {
  Dataset ds = Dataset::from_tensor_slices({iota(3)});
  EXPECT_TRUE(has(error_of([&] { ds.batch(0); }), "batch_size must be positive, got 0"));
  EXPECT_TRUE(has(error_of([&] { ds.batch(-2); }), "got -2"));
}

// ---------------------------------------------------------------------------------------------
// shuffle

TEST(DatasetShuffle, IsAPermutation) {
  for (int64_t buffer : {2, 10, 100, 1000}) {
    std::vector<int64_t> order = values_of(Dataset::from_tensor_slices({iota(100)}).shuffle(buffer, 7));
    EXPECT_TRUE(is_permutation_of_iota(order, 100)) << "buffer " << buffer;
    EXPECT_NE(order, iota_vector(100)) << "buffer " << buffer;
  }
}

TEST(DatasetShuffle, KeepsComponentsOfAnElementTogether) {
  const Tensor y = Tensor::from_vector<int64_t>({0, 100, 200, 300, 400, 500});
  Dataset ds = Dataset::from_tensor_slices({iota(6), y}).shuffle(6, 3);
  for (const Element& e : ds) EXPECT_EQ(e[1].item<int64_t>(), 100 * e[0].item<int64_t>());
}

TEST(DatasetShuffle, DeterministicBySeed) {
  auto order = [](uint64_t seed) { return values_of(Dataset::from_tensor_slices({iota(50)}).shuffle(50, seed)); };
  EXPECT_EQ(order(42), order(42));
  EXPECT_NE(order(42), order(43));
}

TEST(DatasetShuffle, ReshufflesOnEachPass) {
  Dataset ds = Dataset::from_tensor_slices({iota(50)}).shuffle(50, 5);
  const std::vector<int64_t> first = values_of(ds), second = values_of(ds), third = values_of(ds);
  EXPECT_TRUE(is_permutation_of_iota(second, 50));
  EXPECT_NE(first, second);
  EXPECT_NE(second, third);
  // The sequence of orders depends only on the seed: a fresh dataset draws the same sequence.
  Dataset again = Dataset::from_tensor_slices({iota(50)}).shuffle(50, 5);
  EXPECT_EQ(values_of(again), first);
  EXPECT_EQ(values_of(again), second);
}

TEST(DatasetShuffle, SameOrderEveryPassWithoutReshuffle) {
  Dataset ds = Dataset::from_tensor_slices({iota(50)}).shuffle(50, 5, /*reshuffle_each_iteration=*/false);
  const std::vector<int64_t> first = values_of(ds);
  EXPECT_NE(first, iota_vector(50));
  EXPECT_TRUE(is_permutation_of_iota(first, 50));
  EXPECT_EQ(values_of(ds), first);
  EXPECT_EQ(values_of(ds), first);
}

TEST(DatasetShuffle, BufferSizeOneKeepsTheOrder) {
  EXPECT_EQ(values_of(Dataset::from_tensor_slices({iota(20)}).shuffle(1, 9)), iota_vector(20));
}

TEST(DatasetShuffle, AnOutputComesFromTheBufferedWindow) {
  // With a buffer of b, output k is one of inputs 0 .. k+b-1 (TF's buffered shuffle).
  const int64_t b = 4;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<int64_t> order = values_of(Dataset::from_tensor_slices({iota(40)}).shuffle(b, seed));
    ASSERT_TRUE(is_permutation_of_iota(order, 40));
    for (size_t k = 0; k < order.size(); ++k) EXPECT_LT(order[k], static_cast<int64_t>(k) + b) << "seed " << seed;
  }
}

TEST(DatasetShuffle, FirstElementIsUniformOverTheBuffer) {
  // 2000 seeds, 10 candidates: each should come first about 200 times (the seeds are fixed, so
  // this cannot flake; a biased draw would land far outside the band).
  std::vector<int> first(10, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Dataset ds = Dataset::from_tensor_slices({iota(10)}).shuffle(10, seed);
    ++first[static_cast<size_t>((*ds.begin())[0].item<int64_t>())];
  }
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_GT(first[i], 140) << "value " << i;
    EXPECT_LT(first[i], 260) << "value " << i;
  }
}

TEST(DatasetShuffle, NonPositiveBufferErrors) {
  Dataset ds = Dataset::from_tensor_slices({iota(3)});
  EXPECT_TRUE(has(error_of([&] { ds.shuffle(0, 1); }), "buffer_size must be positive, got 0"));
}

// ---------------------------------------------------------------------------------------------
// repeat, take, skip

TEST(DatasetRepeat, RepeatsCountTimes) {
  Dataset ds = Dataset::from_tensor_slices({iota(3)}).repeat(2);
  EXPECT_EQ(values_of(ds), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(ds.cardinality(), 6);
  EXPECT_TRUE(values_of(Dataset::from_tensor_slices({iota(3)}).repeat(0)).empty());
  // Batches run across repetitions, as in TF.
  EXPECT_EQ(batches_of(Dataset::from_tensor_slices({iota(3)}).repeat(2).batch(4)),
            (std::vector<std::vector<int64_t>>{{0, 1, 2, 0}, {1, 2}}));
}

TEST(DatasetRepeat, ForeverWithTake) {
  Dataset forever = Dataset::from_tensor_slices({iota(3)}).repeat();
  EXPECT_EQ(forever.cardinality(), Dataset::kInfinite);
  Dataset ds = forever.take(8);
  EXPECT_EQ(ds.cardinality(), 8);
  EXPECT_EQ(values_of(ds), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1}));
  EXPECT_EQ(values_of(Dataset::from_tensor_slices({iota(3)}).repeat(-1).skip(4).take(3)),
            (std::vector<int64_t>{1, 2, 0}));
}

TEST(DatasetRepeat, EmptyInputEndsInsteadOfLoopingForever) {
  Dataset ds = Dataset::from_tensor_slices({iota(0)}).repeat();
  EXPECT_TRUE(values_of(ds).empty());
  EXPECT_EQ(ds.cardinality(), 0);
}

TEST(DatasetRepeat, ReshufflesEachRepetition) {
  Dataset ds = Dataset::from_tensor_slices({iota(20)}).shuffle(20, 11).repeat(3);
  const std::vector<int64_t> all = values_of(ds);
  ASSERT_EQ(all.size(), 60u);
  std::vector<std::vector<int64_t>> reps;
  for (int r = 0; r < 3; ++r) {
    reps.emplace_back(all.begin() + 20 * r, all.begin() + 20 * (r + 1));
    EXPECT_TRUE(is_permutation_of_iota(reps.back(), 20)) << "repetition " << r;
  }
  EXPECT_NE(reps[0], reps[1]);
  EXPECT_NE(reps[1], reps[2]);
  EXPECT_NE(reps[0], reps[2]);
  // A second pass over the repeated dataset draws new orders again.
  EXPECT_NE(values_of(ds), all);
}

TEST(DatasetRepeat, SameOrderEachRepetitionWithoutReshuffle) {
  Dataset ds = Dataset::from_tensor_slices({iota(20)}).shuffle(20, 11, false).repeat(3);
  const std::vector<int64_t> all = values_of(ds);
  ASSERT_EQ(all.size(), 60u);
  const std::vector<int64_t> first(all.begin(), all.begin() + 20);
  EXPECT_NE(first, iota_vector(20));
  EXPECT_EQ(std::vector<int64_t>(all.begin() + 20, all.begin() + 40), first);
  EXPECT_EQ(std::vector<int64_t>(all.begin() + 40, all.end()), first);
}

TEST(DatasetRepeat, BadCountErrors) {
  EXPECT_TRUE(has(error_of([] { Dataset::from_tensor_slices({iota(3)}).repeat(-2); }), "got -2"));
}

TEST(DatasetTakeSkip, TakeAndSkip) {
  Dataset ds = Dataset::from_tensor_slices({iota(5)});
  EXPECT_EQ(values_of(ds.take(3)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(values_of(ds.skip(3)), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(values_of(ds.take(10)), iota_vector(5));
  EXPECT_TRUE(values_of(ds.take(0)).empty());
  EXPECT_TRUE(values_of(ds.skip(10)).empty());
  EXPECT_EQ(values_of(ds.skip(0)), iota_vector(5));
  EXPECT_EQ(values_of(ds.skip(1).take(2)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(values_of(ds.take(4).skip(2)), (std::vector<int64_t>{2, 3}));
  // take stops pulling from its input: an element after the first n is never made.
  int calls = 0;
  Dataset counted = ds.map([&calls](const Element& e) {
    ++calls;
    return e;
  });
  values_of(counted.take(2));
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(has(error_of([&] { ds.take(-1); }), "Dataset.take"));
  EXPECT_TRUE(has(error_of([&] { ds.skip(-1); }), "Dataset.skip"));
}

// ---------------------------------------------------------------------------------------------
// cardinality

TEST(DatasetCardinality, EveryStage) {
  Dataset ds = Dataset::from_tensor_slices({iota(10)});
  EXPECT_EQ(ds.cardinality(), 10);
  EXPECT_EQ(Dataset::from_tensors({iota(10)}).cardinality(), 1);
  EXPECT_EQ(ds.map([](const Element& e) { return e; }).cardinality(), 10);
  EXPECT_EQ(ds.shuffle(3, 1).cardinality(), 10);
  EXPECT_EQ(ds.batch(3).cardinality(), 4);
  EXPECT_EQ(ds.batch(3, true).cardinality(), 3);
  EXPECT_EQ(ds.batch(10).cardinality(), 1);
  EXPECT_EQ(ds.batch(11, true).cardinality(), 0);
  EXPECT_EQ(ds.repeat(3).cardinality(), 30);
  EXPECT_EQ(ds.repeat(0).cardinality(), 0);
  EXPECT_EQ(ds.repeat().cardinality(), Dataset::kInfinite);
  EXPECT_EQ(ds.repeat().batch(4).cardinality(), Dataset::kInfinite);
  EXPECT_EQ(ds.repeat().map([](const Element& e) { return e; }).cardinality(), Dataset::kInfinite);
  EXPECT_EQ(ds.repeat().skip(5).cardinality(), Dataset::kInfinite);
  EXPECT_EQ(ds.repeat().take(5).cardinality(), 5);
  EXPECT_EQ(ds.repeat().repeat(2).cardinality(), Dataset::kInfinite);
  EXPECT_EQ(ds.take(4).cardinality(), 4);
  EXPECT_EQ(ds.take(40).cardinality(), 10);
  EXPECT_EQ(ds.skip(4).cardinality(), 6);
  EXPECT_EQ(ds.skip(40).cardinality(), 0);
  EXPECT_EQ(ds.take(0).repeat().cardinality(), 0);
  // Each cardinality matches the elements a pass gives.
  for (const Dataset& d : {ds.batch(3), ds.batch(3, true), ds.repeat(2).skip(3), ds.take(7).batch(2)}) {
    EXPECT_EQ(d.cardinality(), std::distance(d.begin(), d.end()));
  }
}

TEST(DatasetCardinality, UnknownForCsv) {
  const TempFile file("c.csv", "1\n2\n3\n");
  const std::string& path = file.path();
  Dataset ds = Dataset::csv(path, {CsvColumn{DType::Int64, std::nullopt}});
  EXPECT_EQ(ds.cardinality(), std::nullopt);
  EXPECT_EQ(ds.map([](const Element& e) { return e; }).cardinality(), std::nullopt);
  EXPECT_EQ(ds.batch(2).cardinality(), std::nullopt);
  EXPECT_EQ(ds.shuffle(2, 1).cardinality(), std::nullopt);
  EXPECT_EQ(ds.take(2).cardinality(), std::nullopt);
  EXPECT_EQ(ds.skip(2).cardinality(), std::nullopt);
  EXPECT_EQ(ds.repeat(2).cardinality(), std::nullopt);
  EXPECT_EQ(ds.take(0).cardinality(), 0);
  EXPECT_EQ(ds.repeat(0).cardinality(), 0);
  EXPECT_EQ(ds.repeat().cardinality(), Dataset::kInfinite);
}

// ---------------------------------------------------------------------------------------------
// csv

TEST(DatasetCsv, ReadsDataLinesAfterTheHeader) {
  const TempFile file("d.csv", "x,label\r\n0.5,1\r\n\r\n1.5,0\r\n2.5,1\r\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 1;
  Dataset ds = Dataset::csv(path, {CsvColumn{DType::Float32, std::nullopt}, CsvColumn{DType::Int32, std::nullopt}},
                            options);
  std::vector<float> xs;
  std::vector<int32_t> labels;
  for (const Element& e : ds) {
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].rank(), 0);
    EXPECT_EQ(e[0].dtype(), DType::Float32);
    EXPECT_EQ(e[1].dtype(), DType::Int32);
    xs.push_back(e[0].item<float>());
    labels.push_back(e[1].item<int32_t>());
  }
  EXPECT_EQ(xs, (std::vector<float>{0.5f, 1.5f, 2.5f}));
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 0, 1}));
  // Each pass reopens the file; batches stack the scalars.
  std::vector<Element> batches(ds.batch(2).begin(), ds.batch(2).end());
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0][0].to_vector<float>(), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(batches[1][1].to_vector<int32_t>(), (std::vector<int32_t>{1}));
}

TEST(DatasetCsv, BadLineErrorsWhenIteratingNamingFileAndLine) {
  // Lines: 1 header, 2 data, 3 blank, 4 data, 5 bad.
  const TempFile file("bad.csv", "a,b\n1,2\n\n3,4\n5,x\n6,7\n");
  const std::string& path = file.path();
  CsvOptions options;
  options.header_lines = 1;
  Dataset ds = Dataset::csv(path, {CsvColumn{DType::Int32, std::nullopt}, CsvColumn{DType::Int32, std::nullopt}},
                            options);  // no error yet: lines are read lazily
  std::vector<int32_t> seen;
  const std::string msg = error_of([&] {
    for (const Element& e : ds) seen.push_back(e[0].item<int32_t>());
  });
  EXPECT_TRUE(has(msg, path + ":5: column 1"));
  EXPECT_TRUE(has(msg, "'x'"));
  EXPECT_EQ(seen, (std::vector<int32_t>{1, 3}));
}

TEST(DatasetCsv, MissingFileErrorsWhenMade) {
  const std::string path = testing::TempDir() + "kiln-missing-dir/none.csv";
  const std::string msg = error_of([&] { Dataset::csv(path, {CsvColumn{DType::Int32, std::nullopt}}); });
  EXPECT_TRUE(has(msg, path));
  EXPECT_TRUE(has(msg, "cannot open"));
  EXPECT_TRUE(has(error_of([&] { Dataset::csv(path, {}); }), "no columns"));
}

TEST(DatasetCsv, FileWithoutDataRowsErrorsWhenMadeUnlessAllowed) {
  const TempFile file("header.csv", "x,label\n\n");
  CsvOptions options;
  options.header_lines = 1;
  const std::vector<CsvColumn> cols = {CsvColumn{DType::Float32, std::nullopt}, CsvColumn{DType::Int32, std::nullopt}};
  const std::string msg = error_of([&] { Dataset::csv(file.path(), cols, options); });
  EXPECT_TRUE(has(msg, file.path() + ": no data rows (2 lines: the header and a blank one; header_lines = 1)")) << msg;
  options.allow_empty = true;
  Dataset ds = Dataset::csv(file.path(), cols, options);
  EXPECT_TRUE(ds.begin() == ds.end());
}

TEST(DatasetCsv, ShippedIrisFile) {
  std::vector<CsvColumn> cols(4, CsvColumn{DType::Float32, std::nullopt});
  cols.push_back(CsvColumn{DType::Int32, std::nullopt});
  CsvOptions options;
  options.header_lines = 1;
  Dataset ds = Dataset::csv(KILN_SOURCE_DIR "/examples/iris/data/iris.csv", cols, options);
  int64_t rows = 0;
  std::vector<int> per_label(3, 0);
  for (const auto& [a, b, c, d, label] : ds.unpacked<5>()) {
    EXPECT_EQ(a.dtype(), DType::Float32);
    const int32_t k = label.item<int32_t>();
    ASSERT_TRUE(k >= 0 && k < 3) << k;
    ++per_label[static_cast<size_t>(k)];
    ++rows;
  }
  EXPECT_EQ(rows, 150);
  EXPECT_EQ(per_label, (std::vector<int>{50, 50, 50}));
}

// ---------------------------------------------------------------------------------------------
// iterators

TEST(DatasetIterator, KeepsThePipelineAliveAfterTheDatasetIsGone) {
  Dataset::iterator it;
  {
    Dataset ds = Dataset::from_tensor_slices({iota(6)})
                     .map([](const Element& e) -> Element { return {e[0], e[0]}; })
                     .shuffle(1, 0)
                     .batch(4);
    it = ds.begin();
  }  // every Dataset handle is gone; the iterator holds the stages
  std::vector<std::vector<int64_t>> got;
  for (; it != Dataset::iterator(); ++it) got.push_back((*it)[1].to_vector<int64_t>());
  EXPECT_EQ(got, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5}}));
}

TEST(DatasetIterator, KeepsACsvPipelineAlive) {
  const TempFile file("alive.csv", "1\n2\n3\n");
  const std::string& path = file.path();
  Dataset::iterator it = Dataset::csv(path, {CsvColumn{DType::Int64, std::nullopt}}).repeat(2).take(5).begin();
  std::vector<int64_t> got;
  for (; it != Dataset::iterator(); ++it) got.push_back(it->at(0).item<int64_t>());
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3, 1, 2}));
}

TEST(DatasetIterator, NestedPassesAreIndependent) {
  Dataset ds = Dataset::from_tensor_slices({iota(3)});
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (const Element& a : ds)
    for (const Element& b : ds) pairs.emplace_back(a[0].item<int64_t>(), b[0].item<int64_t>());
  std::vector<std::pair<int64_t, int64_t>> want;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) want.emplace_back(i, j);
  EXPECT_EQ(pairs, want);

  // The same over a pipeline with state (batch buffers, shuffle buffers, a reopened file).
  const TempFile file("nested.csv", "10\n20\n30\n40\n");
  const std::string& path = file.path();
  Dataset csv = Dataset::csv(path, {CsvColumn{DType::Int64, std::nullopt}}).shuffle(2, 4).batch(3);
  int outer = 0;
  for (const Element& a : csv) {
    ++outer;
    std::vector<int64_t> inner;
    for (const Element& b : csv)
      for (int64_t v : b[0].to_vector<int64_t>()) inner.push_back(v);
    std::sort(inner.begin(), inner.end());
    EXPECT_EQ(inner, (std::vector<int64_t>{10, 20, 30, 40}));
    EXPECT_LE(a[0].dim(0), 3);
  }
  EXPECT_EQ(outer, 2);
}

TEST(DatasetIterator, UnpackedGivesStructuredBindings) {
  const Tensor y = Tensor::from_vector<float>({0.5f, 1.5f, 2.5f});
  Dataset ds = Dataset::from_tensor_slices({iota(3), y});
  int64_t i = 0;
  for (const auto& [x, label] : ds.unpacked<2>()) {
    EXPECT_EQ(x.item<int64_t>(), i);
    EXPECT_EQ(label.item<float>(), 0.5f + static_cast<float>(i));
    ++i;
  }
  EXPECT_EQ(i, 3);
  const std::string msg = error_of([&] {
    for (const auto& [a, b, c] : ds.unpacked<3>()) (void)a, (void)b, (void)c;
  });
  EXPECT_TRUE(has(msg, "2 components, not 3"));
}

// ---- Semantics beyond single stages: snapshots, nesting, the tape, the tutorial's pipeline ----

Dataset slices_of_iota(int64_t n) { return Dataset::from_tensor_slices({iota(n)}); }
const CsvColumn kF32{DType::Float32, std::nullopt};
const CsvColumn kI32{DType::Int32, std::nullopt};

TEST(DatasetSemantics, HoldsASnapshotOfAVariableNotTheVariable) {
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

TEST(DatasetSemantics, BatchOfBatchesAddsADimension) {
  Dataset ds = slices_of_iota(8).batch(2).batch(2);
  std::vector<Element> b(ds.begin(), ds.end());
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1][0].shape(), (Shape{2, 2}));
  EXPECT_EQ(b[1][0].to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6, 7}));
}

TEST(DatasetSemantics, BatchingIsNotRecordedByATape) {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4});
  GradientTape tape;
  tape.watch(x);
  Dataset ds = Dataset::from_tensor_slices({x}).batch(2);
  Tensor first = (*ds.begin())[0];
  Tensor y = reduce_sum(first);
  EXPECT_FALSE(tape.gradient(y, x).defined());
}

TEST(DatasetSemantics, TheIrisPipelineOfTheTutorial) {
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

TEST(DatasetSemantics, IteratorIsAnInputIterator) {
  static_assert(std::input_iterator<Dataset::iterator>);
  static_assert(std::input_iterator<Dataset::Unpacked<2>::iterator>);
  Dataset ds = slices_of_iota(2);
  Dataset::iterator it = ds.begin();
  EXPECT_EQ((*it)[0].item<int64_t>(), 0);
  EXPECT_EQ(it->size(), 1u);
  it++;
  EXPECT_EQ((*it)[0].item<int64_t>(), 1);
  ++it;
  EXPECT_EQ(it, ds.end());
}

}  // namespace
}  // namespace kiln::data
