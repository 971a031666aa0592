// kiln::nn::Sequential: a stack of layers applied in order (tf.keras.Sequential).
#pragma once
#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/nn/module.h"

namespace kiln::nn {

///     kiln::nn::Sequential model;
///     model.add(Dense(10, {.activation = activations::relu, .input_dim = 4}));
///     auto head = std::make_shared<Dense>(3);
///     model.add(head);            // shared: after training, head->kernel() is the trained one
///     Tensor logits = model(x);   // x -> layer 0 -> layer 1
///
/// Its variables are its layers', in layer order. A layer the caller keeps is added as a
/// std::shared_ptr; adding a named layer object (`model.add(dense)`) does not compile, since the
/// model would hold a copy that the named one never sees (a Dense without input_dim would never
/// be built); `model.add(std::move(dense))` gives it away.
class Sequential : public Layer {
 public:
  /// An empty `name` becomes a unique "sequential", "sequential_1", ...
  explicit Sequential(std::string name = "");
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers, std::string name = "");

  /// Appends `layer`, a temporary or a std::move'd layer (moved into a std::make_shared<L>).
  template <class L>
    requires std::derived_from<L, Layer>
  Sequential& add(L&& layer) {
    return add(std::shared_ptr<Layer>(std::make_shared<std::remove_cvref_t<L>>(std::move(layer))));
  }
  /// A named layer object is not copied in (see the class comment): pass a std::shared_ptr to
  /// share it, or std::move it.
  template <class L>
    requires std::derived_from<L, Layer>
  Sequential& add(L& layer) = delete;
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
