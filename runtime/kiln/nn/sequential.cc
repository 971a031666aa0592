// Sequential: layers tracked as sub-modules, called in order.
#include "kiln/nn/sequential.h"

namespace kiln::nn {

Sequential::Sequential(std::string name) : Layer(name.empty() ? unique_name("sequential") : std::move(name)) {}

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers, std::string name) : Sequential(std::move(name)) {
  for (std::shared_ptr<Layer>& l : layers) add(std::move(l));
}

Sequential& Sequential::add(std::shared_ptr<Layer> layer) {
  KILN_CHECK(layer != nullptr, "sequential '", name(), "': add() of a null layer (position ", layers_.size(), ")");
  // Keyed by position, not by the layer's name: named_variables() keys ("0.kernel") must not
  // depend on the process-wide counters behind names like "dense_3".
  add_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::call(const Tensor& x) {
  KILN_CHECK(!layers_.empty(), "sequential '", name(), "': called with no layers; add some with add()");
  Tensor y = x;
  for (const std::shared_ptr<Layer>& l : layers_) y = l->call(y);
  return y;
}

Layer& Sequential::layer(size_t i) {
  KILN_CHECK(i < layers_.size(), "sequential '", name(), "': layer(", i, ") out of range; it has ", layers_.size(),
             " layers");
  return *layers_[i];
}

}  // namespace kiln::nn
