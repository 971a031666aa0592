// Tests of kiln::metrics: Mean, Accuracy, SparseCategoricalAccuracy, ConfusionMatrix.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/error_of.h"
#include "kiln/metrics/accuracy.h"
#include "kiln/metrics/confusion_matrix.h"
#include "kiln/metrics/mean.h"
#include "kiln/ops.h"

namespace {
using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using namespace kiln::metrics;

using kiln::test::error_of;

Tensor i32(std::vector<int32_t> v) { return Tensor::from_vector(v); }
Tensor i64(std::vector<int64_t> v) { return Tensor::from_vector(v); }

TEST(MetricsMean, AveragesEveryElementAndScalar) {
  Mean m;
  EXPECT_EQ(m.result(), 0.0);  // nothing seen yet
  m.update_state(Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}));
  EXPECT_DOUBLE_EQ(m.result(), 2.5);
  m.update_state(10.0);
  EXPECT_DOUBLE_EQ(m.result(), 4.0);  // (1+2+3+4+10)/5
  m.update_state(kiln::constant(1.0, {}, DType::Float64));
  EXPECT_DOUBLE_EQ(m.result(), 21.0 / 6.0);
  m.update_state(i32({0, 0}));
  EXPECT_DOUBLE_EQ(m.result(), 21.0 / 8.0);
  EXPECT_EQ(m.count(), 8);
  m.reset_state();
  EXPECT_EQ(m.result(), 0.0);
  m.update_state(-3.0);
  EXPECT_DOUBLE_EQ(m.result(), -3.0);
}

TEST(MetricsAccuracy, FractionOfMatchingIds) {
  Accuracy a;
  EXPECT_EQ(a.result(), 0.0);
  a.update_state(i32({0, 1, 2, 1}), i64({0, 2, 2, 1}));  // mixed int widths are fine
  EXPECT_DOUBLE_EQ(a.result(), 0.75);
  a.update_state(i32({1, 1}), i32({0, 1}));
  EXPECT_DOUBLE_EQ(a.result(), 4.0 / 6.0);
  a.reset_state();
  a.update_state(i64({3}), i64({3}));
  EXPECT_DOUBLE_EQ(a.result(), 1.0);
}

TEST(MetricsAccuracy, RejectsFloatsAndShapeMismatch) {
  Accuracy a;
  std::string msg = error_of([&] { a.update_state(i32({0, 1}), Tensor::from_vector<float>({0, 1})); });
  EXPECT_NE(msg.find("float32[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Accuracy"), std::string::npos) << msg;
  msg = error_of([&] { a.update_state(i32({0, 1, 2, 3}), Tensor::from_vector<int32_t>({0, 1, 2, 3}, {2, 2})); });
  EXPECT_NE(msg.find("int32[4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int32[2,2]"), std::string::npos) << msg;
  EXPECT_EQ(a.result(), 0.0);
}

TEST(MetricsSparseCategoricalAccuracy, ArgmaxOfLogitsAgainstLabels) {
  SparseCategoricalAccuracy a;
  Tensor logits = Tensor::from_vector<float>({0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.7f}, {3, 2});
  a.update_state(i32({1, 0, 0}), logits);
  EXPECT_DOUBLE_EQ(a.result(), 2.0 / 3.0);
  // [N, 1] labels, float64 logits, and ties resolved to the first class (as argmax).
  a.reset_state();
  a.update_state(Tensor::from_vector<int64_t>({0, 2}, {2, 1}),
                 Tensor::from_vector<double>({5, 5, 1, -1, 0, 3}, {2, 3}));
  EXPECT_DOUBLE_EQ(a.result(), 1.0);
  // Agrees with kiln::argmax.
  Accuracy via_argmax;
  via_argmax.update_state(i32({1, 0, 0}), kiln::argmax(logits, 1));
  EXPECT_DOUBLE_EQ(via_argmax.result(), 2.0 / 3.0);
}

TEST(MetricsSparseCategoricalAccuracy, RejectsBadShapes) {
  SparseCategoricalAccuracy a;
  std::string msg = error_of([&] { a.update_state(i32({0, 1}), Tensor::from_vector<float>({0.1f, 0.9f})); });
  EXPECT_NE(msg.find("[N, C]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32[2]"), std::string::npos) << msg;
  msg = error_of([&] { a.update_state(i32({0, 1, 1}), kiln::zeros({2, 4})); });
  EXPECT_NE(msg.find("int32[3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32[2,4]"), std::string::npos) << msg;
  msg = error_of([&] { a.update_state(Tensor::from_vector<float>({0, 1}), kiln::zeros({2, 4})); });
  EXPECT_NE(msg.find("class ids"), std::string::npos) << msg;
}

TEST(MetricsConfusionMatrix, CountsLabelPredictionPairs) {
  ConfusionMatrix cm(3);
  cm.update_state(i32({0, 1, 2, 2, 1}), i64({0, 2, 2, 1, 1}));
  Tensor r = cm.result();
  EXPECT_EQ(r.dtype(), DType::Int64);
  EXPECT_EQ(r.shape(), (Shape{3, 3}));
  EXPECT_EQ(r.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0,  //
                                                          0, 1, 1,  //
                                                          0, 1, 1}));
  cm.update_state(i32({0, 0}), i32({0, 2}));
  EXPECT_EQ(cm.result().to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 1, 0, 1, 1, 0, 1, 1}));
  cm.reset_state();
  EXPECT_EQ(cm.result().to_vector<int64_t>(), std::vector<int64_t>(9, 0));
}

TEST(MetricsConfusionMatrix, OutOfRangeIdsThrowWithTheValueAndChangeNothing) {
  ConfusionMatrix cm(3);
  cm.update_state(i32({1}), i32({1}));
  std::string msg = error_of([&] { cm.update_state(i32({0, 3}), i32({0, 0})); });
  EXPECT_NE(msg.find("label 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0, 3)"), std::string::npos) << msg;
  msg = error_of([&] { cm.update_state(i32({0, 1}), i32({0, -1})); });
  EXPECT_NE(msg.find("prediction -1"), std::string::npos) << msg;
  EXPECT_EQ(cm.result().to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0, 0, 1, 0, 0, 0, 0}));
  msg = error_of([&] { cm.update_state(i32({0, 1}), i32({0})); });
  EXPECT_NE(msg.find("differ in shape"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { ConfusionMatrix bad(0); }).find("num_classes"), std::string::npos);
}

TEST(MetricsConfusionMatrix, ToStringIsAnAlignedTable) {
  ConfusionMatrix cm(3);
  std::vector<int32_t> labels, preds;
  auto add = [&](int32_t y, int32_t p, int n) {
    for (int i = 0; i < n; ++i) labels.push_back(y), preds.push_back(p);
  };
  add(0, 0, 10), add(1, 1, 9), add(1, 2, 1), add(2, 1, 2), add(2, 2, 108);
  cm.update_state(i32(labels), i32(preds));
  EXPECT_EQ(cm.to_string({"setosa", "versicolor", "virginica"}),
            "true\\pred   setosa  versicolor  virginica\n"
            "setosa          10           0          0\n"
            "versicolor       0           9          1\n"
            "virginica        0           2        108\n");
  EXPECT_EQ(cm.to_string(),
            "true\\pred   0  1    2\n"
            "0          10  0    0\n"
            "1           0  9    1\n"
            "2           0  2  108\n");
  std::string msg = error_of([&] { cm.to_string({"a", "b"}); });
  EXPECT_NE(msg.find("2 class names for 3 classes"), std::string::npos) << msg;
}

}  // namespace
