// nn::Sequential::add: a layer added as a std::shared_ptr is the model's own (built and trained
// through the model, visible through the caller's handle), a temporary or std::move'd layer is
// moved in, and adding a named layer object does not compile (it would add a copy that the named
// one never sees: a Dense without input_dim would never be built).
#include "kiln/nn/sequential.h"

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/nn/layers.h"
#include "kiln/ops.h"
#include "kiln/optim/sgd.h"

namespace kiln::nn {
namespace {

template <class L>
concept addable = requires(Sequential& model, L&& layer) { model.add(std::forward<L>(layer)); };
static_assert(!addable<Dense&>, "a named layer must not be copied in");
static_assert(!addable<const Dense&>, "a named layer must not be copied in");
static_assert(addable<Dense>, "a temporary layer is moved in");
static_assert(addable<Sequential>, "a temporary model nests");
static_assert(addable<std::shared_ptr<Dense>&>, "a shared layer is shared");
static_assert(addable<std::shared_ptr<Layer>>, "a shared layer is shared");

TEST(NnSequential, SharedLayerIsBuiltAndTrainedThroughTheModel) {
  auto hidden = std::make_shared<Dense>(5, DenseOptions{.activation = activations::relu});  // built on first call
  auto head = std::make_shared<Dense>(2);
  Sequential model;
  model.add(hidden).add(head);
  EXPECT_FALSE(hidden->built());
  EXPECT_EQ(&model.layer(0), hidden.get());
  Generator gen(3);
  Tensor x = random_normal({8, 3}, 0.0, 1.0, DType::Float32, &gen), y = random_normal({8, 2}, 0.0, 1.0, DType::Float32, &gen);
  model(x);
  ASSERT_TRUE(hidden->built());
  ASSERT_TRUE(head->built());
  const std::vector<float> kernel_before = hidden->kernel().to_vector<float>();
  optim::SGD opt({.learning_rate = 0.1});
  for (int step = 0; step < 3; ++step) {
    GradientTape tape;
    Tensor loss = reduce_mean(square(model(x) - y));
    std::vector<Variable> vars = model.trainable_variables();
    opt.apply_gradients(tape.gradient(loss, vars), vars);
  }
  const std::vector<Variable> vars = model.trainable_variables();
  ASSERT_EQ(vars.size(), 4u);
  EXPECT_TRUE(hidden->kernel().is_same(vars[0]));
  EXPECT_TRUE(head->bias().is_same(vars[3]));
  EXPECT_NE(hidden->kernel().to_vector<float>(), kernel_before) << "the caller's layer holds the trained kernel";
}

TEST(NnSequential, MovedLayerIsTheModels) {
  Dense dense(2, {.input_dim = 3});
  const Variable kernel = dense.kernel();
  Sequential model;
  model.add(std::move(dense));
  ASSERT_EQ(model.trainable_variables().size(), 2u);
  EXPECT_TRUE(model.trainable_variables()[0].is_same(kernel));
}

}  // namespace
}  // namespace kiln::nn
