// The article's four iris models: Sequential layers, raw variables, a subclassed Module, and the
// "dynamic" Module that takes an extra Dense layer when a host random draw is positive.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kiln/kiln.h"

namespace iris {

inline constexpr int64_t kFeatures = 4, kHidden = 20, kClasses = 3;

/// What the training loop needs of a model: logits for a batch, and its trainable variables.
class IrisModel {
 public:
  virtual ~IrisModel() = default;
  virtual kiln::Tensor logits(const kiln::Tensor& x) = 0;
  virtual std::vector<kiln::Variable> trainable_variables() const = 0;
};

/// `variant` is sequential, raw, module or dynamic; anything else throws kiln::Error.
/// `seed` seeds the weight initialisers and (dynamic) the host draws.
std::unique_ptr<IrisModel> make_model(const std::string& variant, uint64_t seed);

}  // namespace iris
