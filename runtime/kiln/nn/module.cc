// Module's variable tracking and Keras-style unique layer names.
#include "kiln/nn/module.h"

#include <algorithm>
#include <map>
#include <mutex>

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

}  // namespace kiln::nn
