// kiln::optim::SGD: gradient descent with optional (Nesterov) momentum, as tf.keras.optimizers.SGD.
#pragma once
#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct SGDOptions {
  double learning_rate = 0.01;
  /// In [0, 1]; 0 is plain gradient descent (and keeps no slot).
  double momentum = 0.0;
  bool nesterov = false;
};

/// Keras's update rules, with lr the learning rate, m the momentum and g the gradient:
///   momentum == 0:  var -= lr * g
///   momentum  > 0:  v = m * v - lr * g  (v a "momentum" slot, zeros at first), then
///                   var += v                  (plain momentum)
///                   var += m * v - lr * g     (nesterov, with the new v)
class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});
  const SGDOptions& options() const { return options_; }

 protected:
  void create_slots(const Variable& var) override;
  void update(const Variable& var, const Tensor& grad) override;

 private:
  SGDOptions options_;
};

}  // namespace kiln::optim
