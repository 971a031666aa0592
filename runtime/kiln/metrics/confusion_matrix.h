// kiln::metrics::ConfusionMatrix: counts of (true class, predicted class) pairs, kept on the host.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::metrics {

/// Accumulates tf.math.confusion_matrix over updates: entry [i, j] counts the examples whose
/// label is i and whose prediction is j.
///
///     kiln::metrics::ConfusionMatrix cm(3);
///     cm.update_state(y, kiln::argmax(logits, 1));
///     std::cout << cm.to_string({"setosa", "versicolor", "virginica"});
class ConfusionMatrix {
 public:
  /// kiln::Error unless num_classes > 0.
  explicit ConfusionMatrix(int64_t num_classes);

  /// `labels` and `predictions` are class ids (int32 or int64) of the same shape. An id outside
  /// [0, num_classes) throws kiln::Error with the value and its position, and adds nothing.
  void update_state(const Tensor& labels, const Tensor& predictions);
  /// int64 [num_classes, num_classes]: rows are true labels, columns predictions.
  Tensor result() const;
  /// An aligned text table, rows = true labels and columns = predictions, headed by `class_names`
  /// (or the class ids when empty; otherwise there must be num_classes names):
  ///
  ///     true\pred   setosa  versicolor  virginica
  ///     setosa          10           0          0
  ///     versicolor       0           9          1
  ///     virginica        0           2          8
  std::string to_string(const std::vector<std::string>& class_names = {}) const;
  void reset_state();
  int64_t num_classes() const { return num_classes_; }

 private:
  int64_t num_classes_;
  std::vector<int64_t> counts_;  // row-major [num_classes, num_classes]
};

}  // namespace kiln::metrics
