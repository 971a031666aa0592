// Classification accuracy metrics, kept on the host: Accuracy (labels vs predicted class ids) and
// SparseCategoricalAccuracy (labels vs argmax of logits), as tf.keras.metrics.
#pragma once
#include <cstdint>

#include "kiln/tensor.h"

namespace kiln::metrics {

/// The fraction of positions where labels == predictions, over every update since the last reset.
///
///     epoch_accuracy.update_state(y, kiln::argmax(logits, 1, kiln::DType::Int32));
class Accuracy {
 public:
  /// `labels` and `predictions` are class ids (int32 or int64, either for each) of the same shape;
  /// anything else throws kiln::Error showing both. Reads the values (host side).
  void update_state(const Tensor& labels, const Tensor& predictions);
  /// correct / total; 0 before any update.
  double result() const;
  void reset_state();

 private:
  int64_t correct_ = 0, total_ = 0;
};

/// The fraction of rows where argmax(logits row) == label (the first maximum on ties, as kiln::argmax).
class SparseCategoricalAccuracy {
 public:
  /// `labels` are class ids [N] (or [N, 1]), int32 or int64; `logits` (or probabilities) are
  /// [N, C], any numeric dtype. kiln::Error on other shapes or dtypes.
  void update_state(const Tensor& labels, const Tensor& logits);
  /// correct / total; 0 before any update.
  double result() const;
  void reset_state();

 private:
  int64_t correct_ = 0, total_ = 0;
};

}  // namespace kiln::metrics
