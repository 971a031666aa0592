// The four iris models of the article, in Kiln.
#include "examples/iris/iris_models.h"

namespace iris {
namespace {
using kiln::Tensor;
using kiln::Variable;
using kiln::nn::Dense;
using kiln::nn::DenseOptions;

// model = tf.keras.Sequential([Dense(20, relu, input_shape=(4,)), Dense(20, relu), Dense(3)])
class SequentialModel : public IrisModel {
 public:
  explicit SequentialModel(uint64_t seed) {
    auto init = [&](uint64_t k) { return kiln::nn::initializers::glorot_uniform(seed * 16 + k); };
    net_.add(Dense(kHidden, {.activation = kiln::nn::activations::relu, .kernel_initializer = init(1), .input_dim = kFeatures}));
    net_.add(Dense(kHidden, {.activation = kiln::nn::activations::relu, .kernel_initializer = init(2), .input_dim = kHidden}));
    net_.add(Dense(kClasses, {.kernel_initializer = init(3), .input_dim = kHidden}));
  }
  Tensor logits(const Tensor& x) override { return net_(x); }
  std::vector<Variable> trainable_variables() const override { return net_.trainable_variables(); }

 private:
  kiln::nn::Sequential net_;
};

// Raw variables: truncated_normal(stddev 0.1) weights and constant 0.1 biases, as the article's
// low-level form (fc1_w = tf.Variable(tf.truncated_normal([4, 20], stddev=0.1)), ...).
class RawModel : public IrisModel {
 public:
  explicit RawModel(uint64_t seed) : gen_(seed) {
    const int64_t sizes[] = {kFeatures, kHidden, kHidden, kClasses};
    for (int i = 0; i < 3; ++i) {
      w_.emplace_back(kiln::truncated_normal({sizes[i], sizes[i + 1]}, 0.0, 0.1, kiln::DType::Float32, &gen_),
                      true, "fc" + std::to_string(i + 1) + "_w");
      b_.emplace_back(kiln::constant(0.1, {sizes[i + 1]}), true, "fc" + std::to_string(i + 1) + "_b");
    }
  }
  Tensor logits(const Tensor& x) override {
    Tensor h = kiln::relu(kiln::matmul(x, w_[0]) + b_[0]);
    h = kiln::relu(kiln::matmul(h, w_[1]) + b_[1]);
    return kiln::matmul(h, w_[2]) + b_[2];
  }
  std::vector<Variable> trainable_variables() const override {
    return {w_[0], b_[0], w_[1], b_[1], w_[2], b_[2]};
  }

 private:
  kiln::Generator gen_;
  std::vector<Variable> w_, b_;
};

// The subclassed model (tfe.Network with tracked tf.layers.Dense, relu applied in __call__).
class SubclassedModule : public kiln::nn::Module {
 public:
  SubclassedModule(uint64_t seed, bool with_extra_layer) : Module("iris_model") {
    auto dense = [&](const std::string& name, int64_t units, int64_t in, uint64_t k) {
      return add_module(name, std::make_shared<Dense>(
                                  units, DenseOptions{.kernel_initializer = kiln::nn::initializers::glorot_uniform(seed * 16 + k),
                                                      .input_dim = in}, name));
    };
    fc1 = dense("fc1", kHidden, kFeatures, 1);
    fc2 = dense("fc2", kHidden, kHidden, 2);
    if (with_extra_layer) fc2_2 = dense("fc2_2", kHidden, kHidden, 3);
    fc3 = dense("fc3", kClasses, kHidden, 4);
  }
  std::shared_ptr<Dense> fc1, fc2, fc2_2, fc3;
};

class ModuleModel : public IrisModel {
 public:
  explicit ModuleModel(uint64_t seed) : m_(seed, false) {}
  Tensor logits(const Tensor& x) override {
    Tensor h = kiln::relu((*m_.fc1)(x));
    h = kiln::relu((*m_.fc2)(h));
    return (*m_.fc3)(h);
  }
  std::vector<Variable> trainable_variables() const override { return m_.trainable_variables(); }

 private:
  SubclassedModule m_;
};

// The article's dynamic model: `if np.random.randn() > 0: h = relu(fc2_2(h))`. A plain C++ `if`
// on a host draw: eager mode takes a fresh branch on every call, while kiln::function decides it
// once at trace time (kiln::cond on a tensor is the form that decides on every compiled call).
class DynamicModel : public IrisModel {
 public:
  explicit DynamicModel(uint64_t seed) : m_(seed, true), engine_(seed) {}
  Tensor logits(const Tensor& x) override {
    Tensor h = kiln::relu((*m_.fc1)(x));
    h = kiln::relu((*m_.fc2)(h));
    if (normal_(engine_) > 0) h = kiln::relu((*m_.fc2_2)(h));
    return (*m_.fc3)(h);
  }
  std::vector<Variable> trainable_variables() const override { return m_.trainable_variables(); }

 private:
  SubclassedModule m_;
  std::mt19937_64 engine_;
  std::normal_distribution<double> normal_;
};
}  // namespace

std::unique_ptr<IrisModel> make_model(const std::string& variant, uint64_t seed) {
  if (variant == "sequential") return std::make_unique<SequentialModel>(seed);
  if (variant == "raw") return std::make_unique<RawModel>(seed);
  if (variant == "module") return std::make_unique<ModuleModel>(seed);
  if (variant == "dynamic") return std::make_unique<DynamicModel>(seed);
  KILN_CHECK(false, "iris: unknown variant '", variant, "' (expected sequential, raw, module or dynamic)");
  return nullptr;
}

}  // namespace iris
