// Pool2D (MaxPool2D, AveragePooling2D) and Dropout: argument and input checks that name the
// layer, then the op.
#include "kiln/nn/pool_layers.h"

#include <cctype>

#include "kiln/ops.h"

namespace kiln::nn {
namespace {

std::string lowercase(const std::string& s) {
  std::string out;
  for (char ch : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// "(a, b)"; appended piece by piece (GCC 12's -Wrestrict misfires on a chain of + here).
std::string pair_str(std::array<int64_t, 2> v) {
  std::string s = "(";
  s.append(std::to_string(v[0])).append(", ").append(std::to_string(v[1])).append(")");
  return s;
}

// The strides a pooling layer uses ({0, 0}: the pool size), its arguments checked.
std::array<int64_t, 2> checked_pool_args(const char* kind, const std::string& name, std::array<int64_t, 2> pool_size,
                                         const PoolOptions& options) {
  KILN_CHECK(pool_size[0] >= 1 && pool_size[1] >= 1, kind, " '", name, "': pool_size must be at least 1, got ",
             pair_str(pool_size));
  std::array<int64_t, 2> strides = options.strides;
  if (strides[0] == 0 && strides[1] == 0) strides = pool_size;
  KILN_CHECK(strides[0] >= 1 && strides[1] >= 1, kind, " '", name, "': strides must be at least 1 (or (0, 0) for the pool size), got ",
             pair_str(options.strides));
  const std::string p = lowercase(options.padding);
  KILN_CHECK(p == "valid" || p == "same", kind, " '", name, "': padding must be \"valid\" or \"same\", got \"",
             options.padding, "\"");
  return strides;
}

}  // namespace

Pool2D::Pool2D(Reduction reduction, const char* layer, const char* default_name, std::array<int64_t, 2> pool_size,
               const PoolOptions& options, std::string name)
    : Layer(name.empty() ? unique_name(default_name) : std::move(name)),
      reduction_(reduction),
      layer_(layer),
      pool_size_(pool_size),
      strides_(checked_pool_args(layer, this->name(), pool_size, options)),
      padding_(lowercase(options.padding)) {}

Tensor Pool2D::call(const Tensor& x) {
  KILN_CHECK(x.defined(), layer_, " '", name(), "': input is an undefined Tensor");
  KILN_CHECK(x.rank() == 4, layer_, " '", name(), "' expects a 4-D input [batch, height, width, channels], got ", x.type_str());
  KILN_CHECK(is_floating(x.dtype()), layer_, " '", name(), "' expects a float32 or float64 input, got ", x.type_str());
  KILN_CHECK(padding_ == "same" || (x.dim(1) >= pool_size_[0] && x.dim(2) >= pool_size_[1]), layer_, " '", name(),
             "': the ", pool_size_[0], "x", pool_size_[1], " pool is larger than the ", x.dim(1), "x", x.dim(2),
             " (height x width) input ", x.type_str(), " (use padding \"same\")");
  return reduction_ == Reduction::Max ? max_pool2d(x, pool_size_, strides_, padding_)
                                      : avg_pool2d(x, pool_size_, strides_, padding_);
}

Dropout::Dropout(double rate, DropoutOptions options, std::string name)
    : Layer(name.empty() ? unique_name("dropout") : std::move(name)), rate_(rate), generator_(options.generator) {
  KILN_CHECK(rate >= 0 && rate < 1, "Dropout '", this->name(), "': rate must be in [0, 1), got ", rate);
  if (generator_ == nullptr && options.seed) {
    own_generator_ = std::make_shared<Generator>(*options.seed);
    generator_ = own_generator_.get();
  }
}

Tensor Dropout::call(const Tensor& x) {
  KILN_CHECK(x.defined(), "Dropout '", name(), "': input is an undefined Tensor");
  KILN_CHECK(is_floating(x.dtype()), "Dropout '", name(), "' expects a float32 or float64 input, got ", x.type_str());
  return dropout(x, rate_, learning_phase(), generator_);
}

}  // namespace kiln::nn
