// kiln::optim::Optimizer: the base of the optimizers, which update variables from gradients
// through assign ops (see Note [Optimizer updates are ops] in optimizer.cc).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::optim {

/// Applies gradients to variables, Keras-style:
///
///     kiln::GradientTape tape;
///     Tensor loss = loss_fn(model(x), y);
///     auto vars = model.trainable_variables();
///     optimizer.apply_gradients(tape.gradient(loss, vars), vars);
///
/// The learning rate and the step counter are Variables, so that a traced step reads their
/// current values instead of baking in the ones seen while tracing.
class Optimizer {
 public:
  Optimizer(std::string name, double learning_rate);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Updates `vars[i]` with `grads[i]`, then adds one to iterations(). A gradient that is undefined
  /// (the variable did not reach the loss) skips its variable. kiln::Error when the sizes differ,
  /// when a gradient's shape or dtype is not its variable's, or when every gradient is undefined.
  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Variable>& vars);
  /// Creates the slot variables of `vars` now (apply_gradients does it on a variable's first
  /// update); call it before tracing a step, so that the trace creates no variables.
  void build(const std::vector<Variable>& vars);

  /// Number of apply_gradients calls so far.
  int64_t iterations() const;
  double learning_rate() const;
  /// Takes effect from the next apply_gradients (a schedule can set it between steps).
  void set_learning_rate(double learning_rate);
  const std::string& name() const { return name_; }

  /// The optimizer's state as named variables, for checkpoints (Module::save(path, optimizer)):
  /// "iterations" (int64), "learning_rate" (float64), then "<key>/<slot>" for each slot of each
  /// (key, variable) of `vars` whose slots exist ("0.kernel/m", "0.kernel/v" for Adam), the
  /// slots of a variable in name order. Assigning these variables restores the state.
  std::vector<std::pair<std::string, Variable>> named_state(
      const std::vector<std::pair<std::string, Variable>>& vars) const;

 protected:
  /// Called once per apply_gradients, before the updates (Adam computes its bias correction here).
  virtual void prepare() {}
  /// Updates `var` from `grad` (same shape and dtype) with assign ops.
  virtual void update(const Variable& var, const Tensor& grad) = 0;
  /// Creates the slots of `var` with add_slot; called once per variable.
  virtual void create_slots(const Variable& var) { (void)var; }

  /// iterations() + 1 as a float64 scalar computed by ops from the step Variable.
  Tensor step() const;
  /// A new zero-filled slot named `slot_name` for `var` (same shape and dtype, not trainable).
  void add_slot(const Variable& var, const std::string& slot_name);
  /// The slot `slot_name` of `var`, created by create_slots.
  const Variable& slot(const Variable& var, const std::string& slot_name) const;
  /// The learning rate as a scalar of `dtype`.
  const Tensor& learning_rate_as(DType dtype) { return cast_for_step("learning_rate", learning_rate_, dtype); }
  /// `value` (a float64 scalar) cast to `dtype`, cast once per apply_gradients call and dtype.
  const Tensor& cast_for_step(const std::string& key, const Tensor& value, DType dtype);

 private:
  struct Slots {
    Variable var;  // keeps the variable alive, so that its address keys the map safely
    std::map<std::string, Variable> by_name;
  };
  Slots& ensure_slots(const Variable& var);

  std::string name_;
  Variable iterations_;     // int64 scalar
  Variable learning_rate_;  // float64 scalar
  std::unordered_map<const TensorImpl*, Slots> slots_;
  std::map<std::pair<std::string, DType>, Tensor> step_casts_;
};

}  // namespace kiln::optim
