// kiln::Tensor and kiln::Variable: construction, value access, dtype checks, printing, clone
// independence, and in-place variable updates.
#include <sys/resource.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "tests/error_of.h"
#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

using kiln::test::error_of;

TEST(TensorValues, FromVectorShapeDtypeAndToVector) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.rank(), 2);
  EXPECT_EQ(t.dim(0), 2);
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_EQ(t.num_elements(), 6);
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.device(), Device::cpu());
  EXPECT_FALSE(t.is_variable());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.to_vector<int>(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.data<float>()[4], 5.0f);

  Tensor v = Tensor::from_vector(std::vector<int64_t>{7, -8});
  EXPECT_EQ(v.shape(), Shape{2});
  EXPECT_EQ(v.dtype(), DType::Int64);
  EXPECT_EQ(v.to_vector<double>(), (std::vector<double>{7, -8}));
  Tensor b = Tensor::from_vector(std::vector<bool>{true, false, true});
  EXPECT_EQ(b.dtype(), DType::Bool);
  EXPECT_EQ(b.to_vector<int>(), (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(constant(std::vector<double>{1.5, 2.5}, Shape{2, 1}).shape(), (Shape{2, 1}));
  EXPECT_NE(error_of([] { Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{2, 2}); }).find("3 values"),
            std::string::npos);
  EXPECT_THROW(t.dim(2), Error);
}

TEST(TensorValues, ScalarAndItem) {
  Tensor s = Tensor::scalar(2.5f);
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.num_elements(), 1);
  EXPECT_EQ(s.item<float>(), 2.5f);
  EXPECT_EQ(s.item<double>(), 2.5);
  EXPECT_EQ(s.item<int>(), 2);
  Tensor i = Tensor::scalar(int32_t{-3});
  EXPECT_EQ(i.dtype(), DType::Int32);
  EXPECT_EQ(i.item<int64_t>(), -3);
  Tensor d = Tensor::scalar(1.75, DType::Int64);  // converted to the dtype
  EXPECT_EQ(d.dtype(), DType::Int64);
  EXPECT_EQ(d.item<double>(), 1.0);
  EXPECT_EQ(Tensor::scalar(0.5, DType::Bool).item<bool>(), true);
  // One element of any shape has an item; more do not.
  EXPECT_EQ(Tensor::from_vector(std::vector<double>{4}, Shape{1, 1}).item<double>(), 4.0);
  std::string msg = error_of([] { Tensor::from_vector(std::vector<float>{1, 2}).item<float>(); });
  EXPECT_NE(msg.find("item()"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
}

TEST(TensorValues, DataDtypeMismatchThrows) {
  Tensor t = Tensor::from_vector(std::vector<double>{1, 2});
  EXPECT_NO_THROW(t.data<double>());
  std::string msg = error_of([&] { t.data<float>(); });
  EXPECT_EQ(msg, "tensor: data<float32>() on a float64 tensor");
  EXPECT_THROW(t.data<int64_t>(), Error);
  EXPECT_THROW(Tensor::from_vector(std::vector<int32_t>{1}).data<bool>(), Error);
}

TEST(TensorValues, UndefinedTensorThrowsOnUse) {
  Tensor u;
  EXPECT_FALSE(u.defined());
  EXPECT_FALSE(u.is_symbolic());
  EXPECT_NE(error_of([&] { u.shape(); }).find("undefined"), std::string::npos);
  EXPECT_THROW(u.item<float>(), Error);
  EXPECT_THROW(u.to_vector<float>(), Error);
  EXPECT_THROW(u.clone(), Error);
  EXPECT_EQ(u.str(), "tf.Tensor(<undefined>)");
}

TEST(TensorValues, EmptyTensors) {
  Tensor e = Tensor::empty(Shape{0, 3}, DType::Float32);
  EXPECT_EQ(e.num_elements(), 0);
  EXPECT_TRUE(e.to_vector<float>().empty());
  EXPECT_EQ(e.clone().shape(), (Shape{0, 3}));
}

TEST(TensorValues, IdsAreUniquePerValue) {
  Tensor a = Tensor::scalar(1.0f), b = Tensor::scalar(1.0f);
  EXPECT_NE(a.id(), b.id());
  Tensor c = a;  // a handle copy is the same value
  EXPECT_EQ(c.id(), a.id());
  EXPECT_TRUE(c.is_same(a));
  EXPECT_FALSE(b.is_same(a));
  EXPECT_NE((a + b).id(), a.id());
}

TEST(TensorClone, CloneIsIndependent) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3});
  Tensor c = t.clone();
  EXPECT_FALSE(c.is_same(t));
  EXPECT_NE(c.id(), t.id());
  EXPECT_NE(c.raw_data(), t.raw_data());
  EXPECT_EQ(c.shape(), t.shape());
  EXPECT_EQ(c.dtype(), t.dtype());
  c.data<float>()[0] = 100;
  t.data<float>()[2] = -1;
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, -1}));
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{100, 2, 3}));
  // A clone of a variable is a plain tensor.
  Variable v(t);
  EXPECT_FALSE(v.clone().is_variable());
}

TEST(TensorPrint, OneDimensionalFloat) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2, 3});
  EXPECT_EQ(t.str(), "tf.Tensor([1. 2. 3.], shape=(3,), dtype=float32)");
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), t.str());
}

TEST(TensorPrint, DtypesScalarsAndSpecialValues) {
  EXPECT_EQ(Tensor::scalar(3.5f).str(), "tf.Tensor(3.5, shape=(), dtype=float32)");
  EXPECT_EQ(Tensor::scalar(2.0).str(), "tf.Tensor(2., shape=(), dtype=float64)");
  EXPECT_EQ(Tensor::from_vector(std::vector<int32_t>{1, -2, 3}).str(), "tf.Tensor([1 -2 3], shape=(3,), dtype=int32)");
  EXPECT_EQ(Tensor::from_vector(std::vector<int64_t>{7}).str(), "tf.Tensor([7], shape=(1,), dtype=int64)");
  EXPECT_EQ(Tensor::from_vector(std::vector<bool>{true, false}).str(),
            "tf.Tensor([True False], shape=(2,), dtype=bool)");
  EXPECT_EQ(Tensor::from_vector(std::vector<float>{0.5f, -0.25f, 0.1f}).str(),
            "tf.Tensor([0.5 -0.25 0.1], shape=(3,), dtype=float32)");
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Tensor::from_vector(std::vector<double>{inf, -inf, std::nan("")}).str(),
            "tf.Tensor([inf -inf nan], shape=(3,), dtype=float64)");
  EXPECT_EQ(Tensor::empty(Shape{0}, DType::Float32).str(), "tf.Tensor([], shape=(0,), dtype=float32)");
}

TEST(TensorPrint, MatrixRowsAndShape) {
  Tensor m = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, Shape{2, 2});
  const std::string s = m.str();
  EXPECT_EQ(s.rfind("tf.Tensor(", 0), 0u) << s;
  EXPECT_NE(s.find("[[1. 2.]"), std::string::npos) << s;
  EXPECT_NE(s.find("[3. 4.]]"), std::string::npos) << s;
  EXPECT_LT(s.find("[1. 2.]"), s.find("[3. 4.]")) << s;
  EXPECT_EQ(s, "tf.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)");
  const std::string tail = ", shape=(2, 2), dtype=float32)";
  EXPECT_EQ(s.substr(s.size() - tail.size()), tail) << s;
  Tensor t3 = Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}, Shape{2, 2, 2});
  EXPECT_NE(t3.str().find("[[[1 2]"), std::string::npos) << t3.str();
  EXPECT_NE(t3.str().find("[7 8]]]"), std::string::npos) << t3.str();
  EXPECT_EQ(t3.str(), "tf.Tensor(\n[[[1 2]\n  [3 4]]\n\n [[5 6]\n  [7 8]]], shape=(2, 2, 2), dtype=int32)");
}

// 0, 1, 2, ... in `shape`, as numpy's arange(n).reshape(shape).
template <typename T>
Tensor arange(const Shape& shape) {
  std::vector<T> v(static_cast<size_t>(shape.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(i);
  return Tensor::from_vector(v, shape);
}

// The expected texts are numpy 1.24's print(np.arange(n).reshape(shape)) without its column
// padding (Kiln prints each value at its own width).
TEST(TensorPrint, LargeTensorIsSummarizedAsNumpyDoes) {
  const std::string s = arange<int32_t>({1000, 1000}).str();
  EXPECT_EQ(s,
            "tf.Tensor(\n"
            "[[0 1 2 ... 997 998 999]\n"
            " [1000 1001 1002 ... 1997 1998 1999]\n"
            " [2000 2001 2002 ... 2997 2998 2999]\n"
            " ...\n"
            " [997000 997001 997002 ... 997997 997998 997999]\n"
            " [998000 998001 998002 ... 998997 998998 998999]\n"
            " [999000 999001 999002 ... 999997 999998 999999]], shape=(1000, 1000), dtype=int32)");
  std::ostringstream os;
  os << Variable(arange<float>({1000, 1000}));
  EXPECT_LT(os.str().size(), 400u) << os.str();
  EXPECT_NE(os.str().find(" ...\n [997000. 997001. 997002. ... 997997. 997998. 997999.]"), std::string::npos) << os.str();
}

TEST(TensorPrint, SummaryStartsAboveAThousandElements) {
  const std::string all = arange<int64_t>({1000}).str();
  EXPECT_EQ(all.find("..."), std::string::npos);
  EXPECT_NE(all.find(" 499 500 501 "), std::string::npos);
  EXPECT_EQ(arange<int64_t>({1001}).str(), "tf.Tensor([0 1 2 ... 998 999 1000], shape=(1001,), dtype=int64)");
  EXPECT_EQ(div(arange<float>({1001}), Tensor::scalar(4.0f)).str(),
            "tf.Tensor([0. 0.25 0.5 ... 249.5 249.75 250.], shape=(1001,), dtype=float32)");
  // Only dims longer than 2 * edgeitems are cut: here the last one.
  EXPECT_EQ(arange<int32_t>({2, 3, 400}).str(),
            "tf.Tensor(\n[[[0 1 2 ... 397 398 399]\n  [400 401 402 ... 797 798 799]\n  [800 801 802 ... 1197 1198 1199]]\n\n"
            " [[1200 1201 1202 ... 1597 1598 1599]\n  [1600 1601 1602 ... 1997 1998 1999]\n"
            "  [2000 2001 2002 ... 2397 2398 2399]]], shape=(2, 3, 400), dtype=int32)");
}

TEST(TensorPrint, NestedDimsElideWholeBlocksBetweenBlankLines) {
  EXPECT_EQ(arange<int32_t>({8, 10, 20}).str(),
            "tf.Tensor(\n"
            "[[[0 1 2 ... 17 18 19]\n"
            "  [20 21 22 ... 37 38 39]\n"
            "  [40 41 42 ... 57 58 59]\n"
            "  ...\n"
            "  [140 141 142 ... 157 158 159]\n"
            "  [160 161 162 ... 177 178 179]\n"
            "  [180 181 182 ... 197 198 199]]\n"
            "\n"
            " [[200 201 202 ... 217 218 219]\n"
            "  [220 221 222 ... 237 238 239]\n"
            "  [240 241 242 ... 257 258 259]\n"
            "  ...\n"
            "  [340 341 342 ... 357 358 359]\n"
            "  [360 361 362 ... 377 378 379]\n"
            "  [380 381 382 ... 397 398 399]]\n"
            "\n"
            " [[400 401 402 ... 417 418 419]\n"
            "  [420 421 422 ... 437 438 439]\n"
            "  [440 441 442 ... 457 458 459]\n"
            "  ...\n"
            "  [540 541 542 ... 557 558 559]\n"
            "  [560 561 562 ... 577 578 579]\n"
            "  [580 581 582 ... 597 598 599]]\n"
            "\n"
            " ...\n"
            "\n"
            " [[1000 1001 1002 ... 1017 1018 1019]\n"
            "  [1020 1021 1022 ... 1037 1038 1039]\n"
            "  [1040 1041 1042 ... 1057 1058 1059]\n"
            "  ...\n"
            "  [1140 1141 1142 ... 1157 1158 1159]\n"
            "  [1160 1161 1162 ... 1177 1178 1179]\n"
            "  [1180 1181 1182 ... 1197 1198 1199]]\n"
            "\n"
            " [[1200 1201 1202 ... 1217 1218 1219]\n"
            "  [1220 1221 1222 ... 1237 1238 1239]\n"
            "  [1240 1241 1242 ... 1257 1258 1259]\n"
            "  ...\n"
            "  [1340 1341 1342 ... 1357 1358 1359]\n"
            "  [1360 1361 1362 ... 1377 1378 1379]\n"
            "  [1380 1381 1382 ... 1397 1398 1399]]\n"
            "\n"
            " [[1400 1401 1402 ... 1417 1418 1419]\n"
            "  [1420 1421 1422 ... 1437 1438 1439]\n"
            "  [1440 1441 1442 ... 1457 1458 1459]\n"
            "  ...\n"
            "  [1540 1541 1542 ... 1557 1558 1559]\n"
            "  [1560 1561 1562 ... 1577 1578 1579]\n"
            "  [1580 1581 1582 ... 1597 1598 1599]]], shape=(8, 10, 20), dtype=int32)");
}

TEST(TensorPrint, PrintOptionsSetThresholdAndEdgeItems) {
  const PrintOptions old = set_print_options({.threshold = 100, .edgeitems = 2});
  struct Restore {
    PrintOptions options;
    ~Restore() { set_print_options(options); }  // even when an assertion below fails
  } restore{old};
  EXPECT_EQ(old.threshold, 1000);
  EXPECT_EQ(old.edgeitems, 3);
  const std::string s = arange<int32_t>({10, 7, 3, 5}).str();
  const std::string head = "tf.Tensor(\n[[[[0 1 ... 3 4]\n   [5 6 ... 8 9]\n   [10 11 ... 13 14]]\n\n  [[15 16 ... 18 19]";
  EXPECT_EQ(s.substr(0, head.size()), head);
  EXPECT_NE(s.find("[100 101 ... 103 104]]]\n\n\n [[[105 106 ... 108 109]"), std::string::npos) << s;
  EXPECT_NE(s.find("[205 206 ... 208 209]]]\n\n\n ...\n\n\n [[[840 841 ... 843 844]"), std::string::npos) << s;
  EXPECT_NE(s.find("[25 26 ... 28 29]]\n\n  ...\n\n  [[75 76 ... 78 79]"), std::string::npos) << s;
  EXPECT_EQ(arange<int32_t>({12}).str(), "tf.Tensor([0 1 2 3 4 5 6 7 8 9 10 11], shape=(12,), dtype=int32)");
  set_print_options({.threshold = std::numeric_limits<int64_t>::max(), .edgeitems = 3});
  EXPECT_EQ(arange<int32_t>({40, 40}).str().find("..."), std::string::npos);
  EXPECT_TRUE(has(error_of([] { set_print_options({.threshold = -1}); }), "threshold must be >= 0, got -1"));
  EXPECT_TRUE(has(error_of([] { set_print_options({.edgeitems = 0}); }), "edgeitems must be >= 1, got 0"));
  set_print_options(old);
  EXPECT_EQ(print_options().threshold, 1000);
  EXPECT_NE(arange<int32_t>({1001}).str().find("..."), std::string::npos);
}

TEST(TensorVariable, CopiesItsInitialValue) {
  Tensor init = Tensor::from_vector(std::vector<float>{1, 2});
  Variable v(init, /*trainable=*/true, "weights");
  EXPECT_TRUE(v.is_variable());
  EXPECT_TRUE(v.trainable());
  EXPECT_EQ(v.name(), "weights");
  EXPECT_NE(v.raw_data(), init.raw_data());
  init.data<float>()[0] = 50;
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{1, 2}));
  Variable frozen(init, false);
  EXPECT_FALSE(frozen.trainable());
  EXPECT_EQ(frozen.name(), "");
}

TEST(TensorVariable, AssignIsInPlaceAndSeenByEveryHandle) {
  Variable v(Tensor::from_vector(std::vector<float>{1, 2, 3}), true, "v");
  Tensor handle = v;  // a Tensor handle on the variable
  const void* storage = v.raw_data();
  const uint64_t id = v.id();
  v.assign(Tensor::from_vector(std::vector<float>{4, 5, 6}));
  EXPECT_EQ(v.raw_data(), storage);
  EXPECT_EQ(v.id(), id);
  EXPECT_EQ(handle.to_vector<float>(), (std::vector<float>{4, 5, 6}));
  v.assign_add(Tensor::from_vector(std::vector<float>{1, 1, 1}));
  EXPECT_EQ(handle.to_vector<float>(), (std::vector<float>{5, 6, 7}));
  v.assign_sub(Tensor::from_vector(std::vector<float>{5, 5, 5}));
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(v.raw_data(), storage);
  // A value read before the update is a separate tensor and keeps its value.
  Tensor doubled = v * 2.0;
  v.assign(Tensor::from_vector(std::vector<float>{9, 9, 9}));
  EXPECT_EQ(doubled.to_vector<float>(), (std::vector<float>{0, 2, 4}));
  // Assigning a variable from itself (aliasing) is harmless.
  v.assign(v);
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{9, 9, 9}));
  v.assign_add(v);
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{18, 18, 18}));
}

TEST(TensorVariable, PrintsLikeATensor) {
  Variable v(Tensor::from_vector(std::vector<float>{1, 2}));
  EXPECT_EQ(v.str(), "tf.Tensor([1. 2.], shape=(2,), dtype=float32)");
}

}  // namespace
}  // namespace kiln::test

// Note [Storage cache]: a freed block is handed to the next tensor of its size class, small and
// large (above 4 MiB: quarter steps of a power of two). A reused large block is already mapped:
// filling it again costs no page faults (malloc's mmap'd block would fault in every page).
TEST(StorageCache, FreedBlocksAreReusedWithinTheirClass) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "sanitized builds free every block";
#endif
  using kiln::DType;
  using kiln::Tensor;
  const void* small = nullptr;
  {
    Tensor a = Tensor::empty({1000}, DType::Float32);
    small = a.raw_data();
  }
  EXPECT_EQ(Tensor::empty({950}, DType::Float32).raw_data(), small);

  auto minor_faults = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
  };
  const int64_t floats = int64_t{10} << 18;  // 10 MiB: class (8, 10] MiB
  { kiln::fill({floats}, 1.0); }             // mapped, written, freed into the cache
  const long before = minor_faults();
  Tensor again = kiln::fill({floats * 95 / 100}, 2.0);  // the same class: the same, mapped block
  const long faults = minor_faults() - before;
  EXPECT_LT(faults, 100) << "a 9.5 MiB tensor page-faulted " << faults << " times: its block was not reused";
  EXPECT_EQ(again.to_vector<float>()[12345], 2.0f);
}
