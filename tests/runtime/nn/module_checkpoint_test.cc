// Module::save / load with an optimizer: Adam's m, v and step count and the learning rate round
// trip bit for bit, training resumed from a checkpoint (eagerly or under kiln::function) ends at
// the variables of a run that never stopped, and a wrong optimizer or a file without its state
// is an error that changes nothing.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/function.h"
#include "kiln/kiln.h"
#include "tests/error_of.h"
#include "tests/temp_file.h"

namespace kiln::nn {
namespace {
using kiln::test::error_of;
using kiln::test::has;
using kiln::test::TempFile;

// A 4-8-3 classifier whose initial weights depend on `seed` only.
std::shared_ptr<Sequential> classifier(uint64_t seed) {
  auto model = std::make_shared<Sequential>();
  model->add(Dense(8, {.activation = activations::relu, .kernel_initializer = initializers::glorot_uniform(seed),
                       .input_dim = 4}));
  model->add(Dense(3, {.kernel_initializer = initializers::glorot_uniform(seed + 1), .input_dim = 8}));
  return model;
}

// Batch `k` of the training data: 16 rows of features and class ids.
std::pair<Tensor, Tensor> batch(int k) {
  Generator gen(100 + static_cast<uint64_t>(k));
  Tensor x = random_normal({16, 4}, 0.0, 1.0, DType::Float32, &gen);
  Tensor y = cast(random_uniform({16}, 0.0, 3.0, DType::Float32, &gen), DType::Int32);
  return {x, y};
}

void train_step(Sequential& model, optim::Optimizer& opt, const Tensor& x, const Tensor& y) {
  GradientTape tape;
  Tensor loss = reduce_mean(sparse_softmax_cross_entropy_with_logits(y, model(x)));
  std::vector<Variable> vars = model.trainable_variables();
  opt.apply_gradients(tape.gradient(loss, vars), vars);
}

// Runs batches [from, to) through `model` and `opt`, eagerly or under one kiln::function.
void train(Sequential& model, optim::Optimizer& opt, int from, int to, bool compiled) {
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { train_step(model, opt, x, y); },
                             {.name = "checkpoint_step", .jit = compiled});
  for (int k = from; k < to; ++k) {
    auto [x, y] = batch(k);
    step(x, y);
  }
}

void expect_same_values(const std::vector<std::pair<std::string, Variable>>& got,
                        const std::vector<std::pair<std::string, Variable>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.type_str(), want[i].second.type_str()) << want[i].first;
    EXPECT_EQ(got[i].second.to_vector<double>(), want[i].second.to_vector<double>()) << want[i].first;
  }
}

TEST(ModuleCheckpoint, AdamStateRoundTripsBitForBit) {
  TempFile file("ckpt.safetensors", "");
  auto model = classifier(1);
  optim::Adam adam({.learning_rate = 0.02});
  train(*model, adam, 0, 4, false);
  adam.set_learning_rate(0.005);
  model->save(file.path(), adam);

  auto restored = classifier(7);
  optim::Adam fresh;
  restored->load(file.path(), fresh);
  EXPECT_EQ(fresh.iterations(), 4);
  EXPECT_EQ(fresh.learning_rate(), 0.005);
  expect_same_values(restored->named_variables(), model->named_variables());
  const auto state = fresh.named_state(restored->named_variables());
  EXPECT_EQ(state.size(), 2u + 2 * 4);  // iterations, learning_rate, m and v of 4 variables
  expect_same_values(state, adam.named_state(model->named_variables()));
  EXPECT_EQ(state[2].first, "0.kernel/m");
  EXPECT_EQ(state[3].first, "0.kernel/v");
  // The file holds them under "optimizer/"; load(path) alone reads the variables and skips them.
  const auto tensors = read_safetensors(file.path());
  EXPECT_EQ(tensors.at("optimizer/iterations").item<int64_t>(), 4);
  EXPECT_EQ(tensors.at("optimizer/1.bias/v").shape(), (Shape{3}));
  auto weights_only = classifier(9);
  weights_only->load(file.path());
  expect_same_values(weights_only->named_variables(), model->named_variables());
}

// Training 3 + 4 steps with a save and a load into a new model and optimizer in between ends at
// the variables (and optimizer state) of 7 steps in one go, eagerly and compiled.
TEST(ModuleCheckpoint, ResumedTrainingEqualsNeverStopping) {
  const std::vector<std::pair<std::string, std::function<std::unique_ptr<optim::Optimizer>()>>> optimizers = {
      {"Adam", [] { return std::make_unique<optim::Adam>(optim::AdamOptions{.learning_rate = 0.01}); }},
      {"SGD nesterov", [] {
         return std::make_unique<optim::SGD>(optim::SGDOptions{.learning_rate = 0.05, .momentum = 0.9, .nesterov = true});
       }}};
  for (bool compiled : {false, true})
    for (const auto& [name, make_optimizer] : optimizers) {
      SCOPED_TRACE(name + (compiled ? ", compiled" : ", eager"));
      auto straight = classifier(1);
      auto straight_opt = make_optimizer();
      train(*straight, *straight_opt, 0, 7, compiled);

      TempFile file("resume.safetensors", "");
      {
        auto first = classifier(1);
        auto first_opt = make_optimizer();
        train(*first, *first_opt, 0, 3, compiled);
        first->save(file.path(), *first_opt);
      }
      auto resumed = classifier(5);
      auto resumed_opt = make_optimizer();
      resumed->load(file.path(), *resumed_opt);
      EXPECT_EQ(resumed_opt->iterations(), 3);
      train(*resumed, *resumed_opt, 3, 7, compiled);

      expect_same_values(resumed->named_variables(), straight->named_variables());
      expect_same_values(resumed_opt->named_state(resumed->named_variables()),
                         straight_opt->named_state(straight->named_variables()));
    }
}

TEST(ModuleCheckpoint, WrongOptimizerOrMissingStateIsAnErrorThatChangesNothing) {
  TempFile adam_file("adam.safetensors", ""), plain_file("plain.safetensors", "");
  auto model = classifier(1);
  optim::Adam adam;
  train(*model, adam, 0, 2, false);
  model->save(adam_file.path(), adam);
  model->save(plain_file.path());

  auto other = classifier(3);
  const std::vector<float> kernel_before = other->named_variables()[0].second.to_vector<float>();
  optim::SGD momentum({.momentum = 0.9});
  std::string msg = error_of([&] { other->load(adam_file.path(), momentum); });
  EXPECT_TRUE(has(msg, "load: " + adam_file.path() + ": tensor 'optimizer/0.bias/m' (float32[8]) matches no variable " +
                           "of module '" + other->name() + "' nor state of optimizer 'SGD'"))
      << msg;
  EXPECT_EQ(momentum.iterations(), 0);
  EXPECT_EQ(other->named_variables()[0].second.to_vector<float>(), kernel_before) << "a failed load changes nothing";

  optim::Adam fresh;
  msg = error_of([&] { other->load(plain_file.path(), fresh); });
  EXPECT_TRUE(has(msg, "no tensor for state 'iterations' (int64[]) of optimizer 'Adam'")) << msg;
  EXPECT_EQ(other->named_variables()[0].second.to_vector<float>(), kernel_before);
}

// A checkpoint saved before any step has no slots: loading it into an optimizer that has trained
// sets its slots back to zeros, as they start, and its step count to 0.
TEST(ModuleCheckpoint, SlotsTheFileLacksAreReset) {
  TempFile file("initial.safetensors", "");
  auto model = classifier(1);
  optim::Adam adam;
  model->save(file.path(), adam);
  train(*model, adam, 0, 2, false);
  ASSERT_NE(adam.named_state(model->named_variables())[2].second.to_vector<float>(),
            std::vector<float>(32, 0.0f));
  model->load(file.path(), adam);
  EXPECT_EQ(adam.iterations(), 0);
  const auto state = adam.named_state(model->named_variables());
  ASSERT_EQ(state.size(), 2u + 2 * 4);
  for (size_t i = 2; i < state.size(); ++i)
    EXPECT_EQ(reduce_sum(abs(state[i].second)).item<double>(), 0.0) << state[i].first;
  expect_same_values(model->named_variables(), classifier(1)->named_variables());
}

}  // namespace
}  // namespace kiln::nn
