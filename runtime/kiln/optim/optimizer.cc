// Optimizer: argument checks, slot variables, the step counter and the learning rate.
#include "kiln/optim/optimizer.h"

#include <sstream>

#include "kiln/ops.h"

namespace kiln::optim {

// Note [Optimizer updates are ops]
// Every change an optimizer makes to a variable, a slot or its step counter goes through
// kiln::assign / assign_add / assign_sub, and every coefficient that changes between steps (the
// learning rate, Adam's bias correction from the step count) is computed by ops from Variables.
// Eagerly this costs a few scalar ops per step; in exchange a kiln::function that traces
// `tape.gradient` + `apply_gradients` records the whole update, and the compiled step writes
// parameters in place and stays correct at every later step. Reading a value on the host here
// (item(), a double step count) would bake the traced step's value into the compiled code.
// Constant hyperparameters (momentum, beta_1, epsilon) are plain host scalars: baking them is right.

Optimizer::Optimizer(std::string name, double learning_rate)
    : name_(std::move(name)),
      iterations_(Tensor::scalar<int64_t>(0), /*trainable=*/false, name_ + "/iterations"),
      learning_rate_(Tensor::scalar(learning_rate), /*trainable=*/false, name_ + "/learning_rate") {}

int64_t Optimizer::iterations() const { return iterations_.item<int64_t>(); }

double Optimizer::learning_rate() const { return learning_rate_.item<double>(); }

void Optimizer::set_learning_rate(double learning_rate) { learning_rate_.assign(Tensor::scalar(learning_rate)); }

Tensor Optimizer::step() const { return cast(iterations_ + 1, DType::Float64); }

Optimizer::Slots& Optimizer::ensure_slots(const Variable& var) {
  auto it = slots_.find(var.impl_ptr().get());
  if (it != slots_.end()) return it->second;
  Slots& s = slots_[var.impl_ptr().get()];
  s.var = var;
  create_slots(var);
  return s;
}

void Optimizer::add_slot(const Variable& var, const std::string& slot_name) {
  Slots& s = slots_[var.impl_ptr().get()];
  s.var = var;
  KILN_ASSERT(s.by_name.count(slot_name) == 0, "a slot is created once per variable");
  s.by_name.emplace(slot_name, Variable(zeros(var.shape(), var.dtype()), /*trainable=*/false,
                                        var.name() + "/" + name_ + "/" + slot_name));
}

const Variable& Optimizer::slot(const Variable& var, const std::string& slot_name) const {
  auto it = slots_.find(var.impl_ptr().get());
  KILN_ASSERT(it != slots_.end(), "slots are created before update() runs");
  auto s = it->second.by_name.find(slot_name);
  KILN_ASSERT(s != it->second.by_name.end(), "update() reads only slots that create_slots() made");
  return s->second;
}

const Tensor& Optimizer::cast_for_step(const std::string& key, const Tensor& value, DType dtype) {
  auto k = std::make_pair(key, dtype);
  auto it = step_casts_.find(k);
  if (it != step_casts_.end()) return it->second;
  return step_casts_[k] = value.dtype() == dtype ? value : cast(value, dtype);
}

std::vector<std::pair<std::string, Variable>> Optimizer::named_state(
    const std::vector<std::pair<std::string, Variable>>& vars) const {
  std::vector<std::pair<std::string, Variable>> state = {{"iterations", iterations_}, {"learning_rate", learning_rate_}};
  for (const auto& [key, var] : vars) {
    auto it = slots_.find(var.impl_ptr().get());
    if (it == slots_.end()) continue;
    for (const auto& [slot_name, slot] : it->second.by_name) state.emplace_back(key + "/" + slot_name, slot);
  }
  return state;
}

void Optimizer::build(const std::vector<Variable>& vars) {
  for (size_t i = 0; i < vars.size(); ++i) {
    KILN_CHECK(vars[i].defined(), name_, ".build: variable ", i, " is an undefined Variable");
    ensure_slots(vars[i]);
  }
}

void Optimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Variable>& vars) {
  KILN_CHECK(grads.size() == vars.size(), name_, ".apply_gradients: ", grads.size(), " gradients for ",
             vars.size(), " variables");
  // Check everything before updating anything, so that a bad call leaves the model as it was.
  bool any = false;
  for (size_t i = 0; i < vars.size(); ++i) {
    KILN_CHECK(vars[i].defined(), name_, ".apply_gradients: variable ", i, " is an undefined Variable");
    if (!grads[i].defined()) continue;
    any = true;
    KILN_CHECK(grads[i].shape() == vars[i].shape() && grads[i].dtype() == vars[i].dtype(), name_,
               ".apply_gradients: gradient ", i, " is ", dtype_name(grads[i].dtype()), grads[i].shape().str(),
               " but variable '", vars[i].name(), "' is ", dtype_name(vars[i].dtype()), vars[i].shape().str());
  }
  if (!any) {
    // As TF: no gradient at all is nearly always a bug (the loss was computed outside the tape,
    // or from values that do not depend on the variables).
    std::ostringstream names;
    for (size_t i = 0; i < vars.size(); ++i) names << (i ? ", " : "") << "'" << vars[i].name() << "'";
    KILN_CHECK(false, name_, ".apply_gradients: no gradient provided for any variable (", names.str(),
               "); was the loss computed inside the GradientTape?");
  }
  step_casts_.clear();
  prepare();
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!grads[i].defined()) continue;
    ensure_slots(vars[i]);
    update(vars[i], grads[i]);
  }
  assign_add(iterations_, Tensor::scalar<int64_t>(1));
}

}  // namespace kiln::optim
