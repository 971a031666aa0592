// Module's variable tracking and Keras-style unique layer names.
#include "kiln/nn/module.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string_view>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/nn/learning_phase.h"
#include "kiln/nn/safetensors.h"
#include "kiln/ops.h"
#include "kiln/optim/optimizer.h"

namespace kiln::nn {

std::string unique_name(const std::string& base) {
  static std::mutex mutex;
  static std::map<std::string, int64_t> counts;
  std::lock_guard<std::mutex> lock(mutex);
  int64_t n = counts[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

Module::Module(std::string name) : name_(std::move(name)) {}

Variable Module::add_variable(const std::string& name, const Tensor& initial_value, bool trainable) {
  KILN_CHECK(initial_value.defined(), "module '", name_, "': add_variable('", name,
             "') got an undefined initial value");
  Variable v(initial_value, trainable, name_.empty() ? name : name_ + "/" + name);
  variables_.push_back(v);
  variable_names_.push_back(name);
  return v;
}

void Module::track_module(const std::string& name, std::shared_ptr<Module> module) {
  KILN_CHECK(module != nullptr, "module '", name_, "': add_module('", name, "') got a null module");
  KILN_CHECK(module.get() != this, "module '", name_, "': add_module('", name, "') of the module itself");
  modules_.emplace_back(name, std::move(module));
}

// Linear scans for dedupe: models have tens of variables, and the order must be kept anyway.
// `seen_modules` also stops a cycle of modules from recursing forever.
void Module::collect(std::vector<Variable>& out, std::vector<const void*>& seen_variables,
                     std::vector<const Module*>& seen_modules, bool trainable_only) const {
  if (std::find(seen_modules.begin(), seen_modules.end(), this) != seen_modules.end()) return;
  seen_modules.push_back(this);
  for (const Variable& v : variables_) {
    if (trainable_only && !v.trainable()) continue;
    const void* key = v.impl_ptr().get();
    if (std::find(seen_variables.begin(), seen_variables.end(), key) != seen_variables.end()) continue;
    seen_variables.push_back(key);
    out.push_back(v);
  }
  for (const auto& [name, module] : modules_) module->collect(out, seen_variables, seen_modules, trainable_only);
}

std::vector<Variable> Module::variables() const {
  std::vector<Variable> out;
  std::vector<const void*> seen_variables;
  std::vector<const Module*> seen_modules;
  collect(out, seen_variables, seen_modules, false);
  return out;
}

std::vector<Variable> Module::trainable_variables() const {
  std::vector<Variable> out;
  std::vector<const void*> seen_variables;
  std::vector<const Module*> seen_modules;
  collect(out, seen_variables, seen_modules, true);
  return out;
}

// The same walk as collect, so that named_variables() lists variables() in the same order.
void Module::collect_named(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out,
                           std::vector<const void*>& seen_variables, std::vector<const Module*>& seen_modules) const {
  if (std::find(seen_modules.begin(), seen_modules.end(), this) != seen_modules.end()) return;
  seen_modules.push_back(this);
  for (size_t i = 0; i < variables_.size(); ++i) {
    const void* key = variables_[i].impl_ptr().get();
    if (std::find(seen_variables.begin(), seen_variables.end(), key) != seen_variables.end()) continue;
    seen_variables.push_back(key);
    out.emplace_back(prefix + variable_names_[i], variables_[i]);
  }
  for (const auto& [name, module] : modules_) module->collect_named(prefix + name + ".", out, seen_variables, seen_modules);
}

std::vector<std::pair<std::string, Variable>> Module::named_variables() const {
  std::vector<std::pair<std::string, Variable>> out;
  std::vector<const void*> seen_variables;
  std::vector<const Module*> seen_modules;
  collect_named("", out, seen_variables, seen_modules);
  std::set<std::string> keys;
  for (const auto& [key, v] : out)
    KILN_CHECK(keys.insert(key).second, "module '", name_, "': two variables have the path '", key,
               "' (give add_variable and add_module distinct names within a module)");
  return out;
}

namespace {
// Module::save(path, optimizer) keeps the optimizer's state under this prefix, which a module key
// (attribute names joined with '.') does not start with.
constexpr std::string_view kOptimizerPrefix = "optimizer/";

bool is_optimizer_key(const std::string& key) { return key.starts_with(kOptimizerPrefix); }

// A variable that load assigns: its key in the file, what errors call it and its owner
// ("variable '0.kernel'", "module 'sequential'"), and whether a file without it means zeros (an
// optimizer slot not made yet when the file was saved) rather than an error.
struct LoadTarget {
  std::string key;
  Variable var;
  std::string what, owner;
  bool zeros_when_missing = false;
};

// Assigns every target the file's tensor under its key, after checking them all, so that a failed
// load changes nothing: each target's tensor has its dtype and shape (or is missing and may be),
// and each file tensor whose key `in_scope` accepts belongs to a target (`stray` ends the error).
void assign_checked(const std::string& path, const std::vector<LoadTarget>& targets,
                    const std::map<std::string, Tensor>& file, bool (*in_scope)(const std::string&),
                    const std::string& stray) {
  std::set<std::string> keys;
  for (const LoadTarget& t : targets) {
    keys.insert(t.key);
    auto it = file.find(t.key);
    KILN_CHECK(it != file.end() || t.zeros_when_missing, "load: ", path, ": no tensor for ", t.what, " (",
               t.var.type_str(), ") of ", t.owner);
    if (it == file.end()) continue;
    KILN_CHECK(it->second.dtype() == t.var.dtype() && it->second.shape() == t.var.shape(), "load: ", path, ": ", t.what,
               " of ", t.owner, " is ", t.var.type_str(), ", the file has ", it->second.type_str());
  }
  for (const auto& [key, t] : file)
    KILN_CHECK(!in_scope(key) || keys.count(key), "load: ", path, ": tensor '", key, "' (", t.type_str(), ") matches no ",
               stray);
  for (const LoadTarget& t : targets) {
    auto it = file.find(t.key);
    t.var.assign(it != file.end() ? it->second : zeros(t.var.shape(), t.var.dtype()));
  }
}

std::vector<LoadTarget> variable_targets(const std::vector<std::pair<std::string, Variable>>& named,
                                         const std::string& module_name) {
  std::vector<LoadTarget> targets;
  for (const auto& [key, v] : named) targets.push_back({key, v, "variable '" + key + "'", "module '" + module_name + "'"});
  return targets;
}

bool is_variable_key(const std::string& key) { return !is_optimizer_key(key); }
bool is_any_key(const std::string&) { return true; }
}  // namespace

void Module::save(const std::string& path) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [key, v] : named_variables()) tensors.emplace_back(key, v);
  write_safetensors(path, tensors);
}

void Module::save(const std::string& path, const optim::Optimizer& optimizer) const {
  const std::vector<std::pair<std::string, Variable>> named = named_variables();
  std::vector<std::pair<std::string, Tensor>> tensors(named.begin(), named.end());
  for (const auto& [key, v] : optimizer.named_state(named)) tensors.emplace_back(std::string(kOptimizerPrefix) + key, v);
  write_safetensors(path, tensors);
}

void Module::load(const std::string& path) {
  const std::vector<std::pair<std::string, Variable>> named = named_variables();
  assign_checked(path, variable_targets(named, name_), read_safetensors(path), is_variable_key,
                 "variable of module '" + name_ + "' (" + std::to_string(named.size()) +
                     " variables; is the model built the same way, and called once?)");
}

void Module::load(const std::string& path, optim::Optimizer& optimizer) {
  const std::vector<std::pair<std::string, Variable>> named = named_variables();
  const std::map<std::string, Tensor> file = read_safetensors(path);
  // A fresh optimizer has no slots yet (they come with a variable's first update): make those of
  // the variables the file has slots for. New slots are zeros, so this changes no state.
  std::vector<Variable> slotted;
  for (const auto& [key, v] : named) {
    const std::string slots_prefix = std::string(kOptimizerPrefix) + key + "/";
    auto it = file.lower_bound(slots_prefix);
    if (it != file.end() && it->first.starts_with(slots_prefix)) slotted.push_back(v);
  }
  optimizer.build(slotted);
  std::vector<LoadTarget> targets = variable_targets(named, name_);
  const std::string owner = "optimizer '" + optimizer.name() + "'";
  for (const auto& [key, v] : optimizer.named_state(named))
    targets.push_back({std::string(kOptimizerPrefix) + key, v, "state '" + key + "'", owner,
                       key != "iterations" && key != "learning_rate"});
  assign_checked(path, targets, file, is_any_key,
                 "variable of module '" + name_ + "' nor state of " + owner +
                     " (is the model built the same way, and the optimizer of the saved kind?)");
}

Tensor Layer::predict(const Tensor& x, int64_t batch_size) {
  KILN_CHECK(batch_size >= 1, "predict of '", name(), "': batch_size must be at least 1, got ", batch_size);
  KILN_CHECK(x.defined() && x.rank() >= 1 && x.dim(0) >= 1, "predict of '", name(),
             "': the input needs a batch dim of at least one row, got ",
             x.defined() ? x.type_str() : std::string("an undefined Tensor"));
  detail::PauseTapes paused;
  LearningPhase inference(false);  // Dropout and the like run as in inference
  const int64_t n = x.dim(0);
  if (n <= batch_size) return call(x);
  std::vector<Tensor> parts;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    std::vector<int64_t> start(static_cast<size_t>(x.rank()), 0), size = x.shape().vec();
    start[0] = begin;
    size[0] = std::min(batch_size, n - begin);
    parts.push_back(call(kiln::slice(x, start, size)));
  }
  return kiln::concat(parts, 0);
}

}  // namespace kiln::nn
