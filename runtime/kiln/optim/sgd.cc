// SGD's update, in assign ops (see Note [Optimizer updates are ops] in optimizer.cc).
#include "kiln/optim/sgd.h"

#include "kiln/ops.h"

namespace kiln::optim {

SGD::SGD(SGDOptions options) : Optimizer("SGD", options.learning_rate), options_(options) {
  KILN_CHECK(options_.momentum >= 0.0 && options_.momentum <= 1.0, "SGD: momentum must be in [0, 1], got ",
             options_.momentum);
}

void SGD::create_slots(const Variable& var) {
  if (options_.momentum != 0.0) add_slot(var, "momentum");
}

void SGD::update(const Variable& var, const Tensor& grad) {
  Tensor lr_g = grad * learning_rate_as(var.dtype());
  if (options_.momentum == 0.0) {
    assign_sub(var, lr_g);
    return;
  }
  const Variable& v = slot(var, "momentum");
  // The updated slot is taken from assign's result rather than re-read from `v`, so that a trace
  // orders the variable's update after the slot's by data dependence.
  Tensor v_new = assign(v, v * options_.momentum - lr_g);
  if (options_.nesterov) {
    assign_add(var, v_new * options_.momentum - lr_g);
  } else {
    assign_add(var, v_new);
  }
}

}  // namespace kiln::optim
