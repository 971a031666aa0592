// kiln::optim::Adam: adaptive moment estimation, as tf.keras.optimizers.Adam.
#pragma once
#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta_1 = 0.9;    ///< in [0, 1)
  double beta_2 = 0.999;  ///< in [0, 1)
  double epsilon = 1e-7;  ///< >= 0
};

/// TF/Keras Adam (Kingma & Ba, with epsilon added after the bias correction). Slots m and v per
/// variable, zeros at first; at step t = iterations() + 1:
///   lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
///   m   += (g - m) * (1 - beta_1)        (= beta_1 * m + (1 - beta_1) * g)
///   v   += (g * g - v) * (1 - beta_2)    (= beta_2 * v + (1 - beta_2) * g * g)
///   var -= lr_t * m / (sqrt(v) + epsilon)
/// The increment forms are those of TF's ApplyAdam kernel and Keras 3, for the same rounding.
class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  void prepare() override;
  void create_slots(const Variable& var) override;
  void update(const Variable& var, const Tensor& grad) override;

 private:
  AdamOptions options_;
  Tensor lr_t_;  // float64 scalar, this step's bias-corrected learning rate
};

}  // namespace kiln::optim
