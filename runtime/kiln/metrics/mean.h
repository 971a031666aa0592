// kiln::metrics::Mean: the running mean of values seen (tf.keras.metrics.Mean), kept on the host.
#pragma once
#include <cstdint>

#include "kiln/tensor.h"

namespace kiln::metrics {

///     kiln::metrics::Mean epoch_loss;
///     epoch_loss.update_state(loss);      // each batch
///     std::printf("%.3f", epoch_loss.result());
class Mean {
 public:
  /// Adds every element of `values` (any numeric or bool dtype). Reads the values: not for use
  /// inside a traced function.
  void update_state(const Tensor& values);
  void update_state(double value);
  /// sum / count of everything added since the last reset; 0 when nothing was added (as Keras).
  double result() const;
  void reset_state();
  int64_t count() const { return count_; }

 private:
  double total_ = 0.0;
  int64_t count_ = 0;
};

}  // namespace kiln::metrics
