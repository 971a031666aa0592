// kiln::nn::Sequential: a stack of layers applied in order (tf.keras.Sequential).
#pragma once
#include <concepts>
#include <memory>
#include <string>
#include <vector>

#include "kiln/nn/module.h"

namespace kiln::nn {

///     kiln::nn::Sequential model;
///     model.add(Dense(10, {.activation = activations::relu, .input_dim = 4}));
///     model.add(Dense(3));
///     Tensor logits = model(x);   // x -> layer 0 -> layer 1
///
/// Its variables are its layers', in layer order.
class Sequential : public Layer {
 public:
  /// An empty `name` becomes a unique "sequential", "sequential_1", ...
  explicit Sequential(std::string name = "");
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers, std::string name = "");

  /// Appends a copy of `layer` (moved into a std::make_shared<L>).
  template <class L>
    requires std::derived_from<L, Layer>
  Sequential& add(L layer) {
    return add(std::shared_ptr<Layer>(std::make_shared<L>(std::move(layer))));
  }
  /// Appends `layer`, shared with the caller (a null layer throws kiln::Error).
  Sequential& add(std::shared_ptr<Layer> layer);

  /// Applies the layers in order; kiln::Error when there are none.
  Tensor call(const Tensor& x) override;

  size_t size() const { return layers_.size(); }
  /// Layer `i` (kiln::Error when out of range).
  Layer& layer(size_t i);

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace kiln::nn
