// kiln::nn::Module, which tracks variables and sub-modules (tf.Module), and Layer, a Module with
// one tensor in and one out (a Keras Layer).
#pragma once
#include <concepts>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::optim {
class Optimizer;
}  // namespace kiln::optim

namespace kiln::nn {

/// A unique name from `base`, as Keras names layers: the first request for "dense" gets "dense",
/// later ones "dense_1", "dense_2", ... (process-wide counters, thread-safe).
std::string unique_name(const std::string& base);

/// Owns variables and sub-modules, so that a model's parameters can be collected in one call:
///
///     class Mlp : public kiln::nn::Module {
///      public:
///       Mlp() : Module("mlp") {
///         fc1 = add_module("fc1", std::make_shared<Dense>(20, DenseOptions{.input_dim = 4}));
///         scale = add_variable("scale", kiln::ones({20}));
///       }
///       std::shared_ptr<Dense> fc1;
///       Variable scale;
///     };
///     optimizer.apply_gradients(grads, mlp.trainable_variables());
///
/// Copying a Module copies its handles: the copy shares variables and sub-modules.
class Module {
 public:
  explicit Module(std::string name = "");
  virtual ~Module() = default;

  /// Own variables in registration order, then each sub-module's (recursively, in registration
  /// order); a variable reachable twice (a shared layer) is listed once, at its first place.
  std::vector<Variable> variables() const;
  /// variables() without the non-trainable ones.
  std::vector<Variable> trainable_variables() const;
  /// variables(), each keyed by its attribute path from this module, joined with '.' as PyTorch's
  /// state_dict keys are: "scale", "fc1.kernel", and for a Sequential the layer's position,
  /// "0.kernel", "1.bias". The keys depend only on how the model is built (not on the process-wide
  /// counters behind layer names), so a model built twice gets the same keys. Two variables with
  /// the same path (two add_variable or add_module calls with one name) throw kiln::Error.
  std::vector<std::pair<std::string, Variable>> named_variables() const;

  /// Writes every variable to `path` in the safetensors format (kiln/nn/safetensors.h), keyed by
  /// named_variables(). Build the model first (a Dense without input_dim has no variables until
  /// it is called). kiln::Error when the file cannot be written.
  void save(const std::string& path) const;
  /// Reads `path` (safetensors) and assigns each variable the tensor under its key. Every variable
  /// must be in the file with its dtype and shape, and every tensor in the file must belong to a
  /// variable (those under "optimizer/", an optimizer's state, are skipped); otherwise kiln::Error
  /// names the file and the variable (with the expected and the found dtype and shape) and no
  /// variable is changed.
  void load(const std::string& path);
  /// save(path), plus `optimizer`'s state, so that training resumes exactly where it stopped
  /// (Keras saves a model with its optimizer): the step count "optimizer/iterations" (int64), the
  /// learning rate "optimizer/learning_rate" (float64) and the slots of this module's variables,
  /// "optimizer/<variable key>/<slot>" ("optimizer/0.kernel/m", "optimizer/0.kernel/v" for Adam).
  void save(const std::string& path, const optim::Optimizer& optimizer) const;
  /// Reads what save(path, optimizer) wrote: the variables as load(path) does, and the optimizer's
  /// step count, learning rate and slots (created when the optimizer has not made them yet; a slot
  /// the file lacks, of a variable not updated before the save, is set to zeros, as it starts).
  /// Use an optimizer of the saved kind: a slot it does not make is an error. Everything is checked
  /// before anything is assigned. load(path) reads such a file too, ignoring the optimizer's part.
  void load(const std::string& path, optim::Optimizer& optimizer);
  const std::string& name() const { return name_; }

 protected:
  /// Creates a Variable holding a copy of `initial_value`, named `<module name>/<name>`, and tracks it.
  Variable add_variable(const std::string& name, const Tensor& initial_value, bool trainable = true);
  /// Tracks `module` (its variables join this module's) and returns it, for
  /// `fc1 = add_module("fc1", std::make_shared<Dense>(...))`. `name` is the attribute's name.
  template <class M>
    requires std::derived_from<M, Module>
  std::shared_ptr<M> add_module(const std::string& name, std::shared_ptr<M> module) {
    track_module(name, module);
    return module;
  }

 private:
  void track_module(const std::string& name, std::shared_ptr<Module> module);
  void collect(std::vector<Variable>& out, std::vector<const void*>& seen_variables,
               std::vector<const Module*>& seen_modules, bool trainable_only) const;
  void collect_named(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out,
                     std::vector<const void*>& seen_variables, std::vector<const Module*>& seen_modules) const;

  std::string name_;
  std::vector<Variable> variables_;
  std::vector<std::string> variable_names_;  // add_variable's `name` of each of variables_
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> modules_;
};

/// A Module that maps one tensor to one tensor. Subclasses implement `call`.
class Layer : public Module {
 public:
  using Module::Module;
  virtual Tensor call(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return call(x); }
  /// Inference in batches, as Keras' Model.predict: `call` on consecutive slices of `batch_size`
  /// rows of `x` (the last one may be smaller), results concatenated along dim 0, in the
  /// inference phase (kiln/nn/learning_phase.h: Dropout passes x through). Nothing is recorded
  /// on the active GradientTapes. kiln::Error naming the layer for a scalar `x`, an
  /// empty batch dim or `batch_size` < 1.
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
};

}  // namespace kiln::nn
