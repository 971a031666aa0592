// Adam's update, in assign ops (see Note [Optimizer updates are ops] in optimizer.cc).
#include "kiln/optim/adam.h"

#include "kiln/ops.h"

namespace kiln::optim {

Adam::Adam(AdamOptions options) : Optimizer("Adam", options.learning_rate), options_(options) {
  KILN_CHECK(options_.beta_1 >= 0.0 && options_.beta_1 < 1.0, "Adam: beta_1 must be in [0, 1), got ", options_.beta_1);
  KILN_CHECK(options_.beta_2 >= 0.0 && options_.beta_2 < 1.0, "Adam: beta_2 must be in [0, 1), got ", options_.beta_2);
  KILN_CHECK(options_.epsilon >= 0.0, "Adam: epsilon must be >= 0, got ", options_.epsilon);
}

// The bias correction is computed once per step in float64 and cast per variable dtype; it is
// built from the step Variable, not from a host count, so a traced step stays right at every t.
void Adam::prepare() {
  Tensor t = step();
  Tensor beta_1_power = pow(Tensor::scalar(options_.beta_1), t);
  Tensor beta_2_power = pow(Tensor::scalar(options_.beta_2), t);
  lr_t_ = learning_rate_as(DType::Float64) * sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power);
}

void Adam::create_slots(const Variable& var) {
  add_slot(var, "m");
  add_slot(var, "v");
}

void Adam::update(const Variable& var, const Tensor& grad) {
  const Variable& m = slot(var, "m");
  const Variable& v = slot(var, "v");
  // One fused op (TF's ResourceApplyAdam): an eager step runs one kernel per variable instead of
  // thirteen, and a trace records the slots' and the variable's updates together.
  apply_adam(var, m, v, grad, cast_for_step("lr_t", lr_t_, var.dtype()), options_.beta_1, options_.beta_2,
             options_.epsilon);
}

}  // namespace kiln::optim
