// Tests of the MaxPool2D, AveragePooling2D and Dropout layers and of the learning phase: hand-
// computed results, Keras' defaults and names, errors naming the layer and the shapes, dropout
// only in the training phase (predict and kiln::function included).
#include <gtest/gtest.h>

#include <thread>

#include "kiln/kiln.h"
#include "tests/error_of.h"

namespace {
using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using namespace kiln::nn;
using kiln::test::error_of;
using kiln::test::has;

// x [1,4,4,1] = 0..15 row by row.
Tensor ramp() {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return Tensor::from_vector(v, Shape{1, 4, 4, 1});
}

TEST(NnPooling, MaxPool2DDefaultsToNonOverlappingValidWindows) {
  MaxPool2D pool;
  EXPECT_EQ(pool.pool_size(), (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(pool.strides(), (std::array<int64_t, 2>{2, 2}));
  Tensor y = pool(ramp());
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 7, 13, 15}));
  EXPECT_TRUE(pool.variables().empty());
}

TEST(NnPooling, StridesAndSamePadding) {
  // 3x3 windows, stride 1, same: each output is the max of its clipped neighbourhood.
  MaxPool2D pool({3, 3}, {.strides = {1, 1}, .padding = "same"});
  Tensor y = pool(ramp());
  EXPECT_EQ(y.shape(), (Shape{1, 4, 4, 1}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 6, 7, 7, 9, 10, 11, 11, 13, 14, 15, 15, 13, 14, 15, 15}));
  // Odd sizes with valid padding drop the last row and column.
  EXPECT_EQ(MaxPool2D({2, 2})(kiln::zeros({2, 5, 7, 3})).shape(), (Shape{2, 2, 3, 3}));
  EXPECT_EQ(MaxPool2D({2, 2}, {.padding = "SAME"})(kiln::zeros({2, 5, 7, 3})).shape(), (Shape{2, 3, 4, 3}));
}

TEST(NnPooling, AveragePooling2DCountsOnlyRealElements) {
  AveragePooling2D pool;
  EXPECT_EQ(pool(ramp()).to_vector<float>(), (std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
  // Same padding, 3x3 stride 2 on 4x4 (one padding row at the bottom, one column at the right):
  // the top-left window averages the nine of rows and columns 0..2, the bottom-right one the
  // four real x[2..3, 2..3].
  AveragePooling2D same({3, 3}, {.strides = {2, 2}, .padding = "same"});
  EXPECT_EQ(same(ramp()).to_vector<float>(), (std::vector<float>{5, 6.5f, 11, 12.5f}));
}

TEST(NnPooling, DefaultNamesAreKeras) {
  EXPECT_EQ(MaxPool2D().name().rfind("max_pooling2d", 0), 0u);
  EXPECT_EQ(AveragePooling2D().name().rfind("average_pooling2d", 0), 0u);
  EXPECT_EQ(Dropout(0.5).name().rfind("dropout", 0), 0u);
  EXPECT_NE(MaxPool2D().name(), MaxPool2D().name());
}

TEST(NnPooling, ErrorsNameTheLayerAndTheShapes) {
  MaxPool2D pool({2, 2}, {}, "pool");
  EXPECT_EQ(error_of([&] { pool(kiln::zeros({28, 28, 1})); }),
            "MaxPool2D 'pool' expects a 4-D input [batch, height, width, channels], got float32[28,28,1]");
  EXPECT_EQ(error_of([&] { pool(kiln::zeros({1, 4, 4, 1}, DType::Int32)); }),
            "MaxPool2D 'pool' expects a float32 or float64 input, got int32[1,4,4,1]");
  EXPECT_EQ(error_of([&] { pool(kiln::zeros({4, 1, 5, 3})); }),
            "MaxPool2D 'pool': the 2x2 pool is larger than the 1x5 (height x width) input float32[4,1,5,3] (use padding \"same\")");
  EXPECT_EQ(MaxPool2D({2, 2}, {.padding = "same"})(kiln::zeros({4, 1, 5, 3})).shape(), (Shape{4, 1, 3, 3}));
  AveragePooling2D avg({2, 2}, {}, "avg");
  EXPECT_EQ(error_of([&] { avg(kiln::zeros({2, 8, 8})); }),
            "AveragePooling2D 'avg' expects a 4-D input [batch, height, width, channels], got float32[2,8,8]");
  EXPECT_EQ(error_of([] { MaxPool2D({0, 2}, {}, "p"); }), "MaxPool2D 'p': pool_size must be at least 1, got (0, 2)");
  EXPECT_EQ(error_of([] { AveragePooling2D({2, 2}, {.strides = {1, -1}}, "a"); }),
            "AveragePooling2D 'a': strides must be at least 1 (or (0, 0) for the pool size), got (1, -1)");
  EXPECT_EQ(error_of([] { MaxPool2D({2, 2}, {.padding = "full"}, "p"); }),
            "MaxPool2D 'p': padding must be \"valid\" or \"same\", got \"full\"");
  EXPECT_EQ(error_of([] { Dropout(1.0, {}, "d"); }), "Dropout 'd': rate must be in [0, 1), got 1");
  EXPECT_EQ(error_of([] { Dropout(-0.5, {}, "d"); }), "Dropout 'd': rate must be in [0, 1), got -0.5");
  Dropout drop(0.5, {}, "d");
  EXPECT_EQ(error_of([&] { drop(kiln::zeros({3}, DType::Int64)); }), "Dropout 'd' expects a float32 or float64 input, got int64[3]");
}

// ---- Dropout and the learning phase ----

double fraction_dropped(const Tensor& y) {
  std::vector<float> v = y.to_vector<float>();
  double zeros = 0;
  for (float x : v) zeros += x == 0;
  return zeros / static_cast<double>(v.size());
}

TEST(NnDropout, PassesThroughOutsideTheTrainingPhase) {
  EXPECT_FALSE(learning_phase());
  Dropout drop(0.5);
  Tensor x = kiln::ones({10, 10});
  EXPECT_TRUE(drop(x).is_same(x));
  EXPECT_TRUE(drop.variables().empty());
}

TEST(NnDropout, DropsInTheTrainingPhaseAndGuardsNest) {
  Dropout drop(0.25, {.seed = 11});
  Tensor x = kiln::ones({100, 100});
  {
    LearningPhase training(true);
    EXPECT_TRUE(learning_phase());
    Tensor y = drop(x);
    EXPECT_NEAR(fraction_dropped(y), 0.25, 0.025);
    std::vector<float> v = y.to_vector<float>();
    for (float e : v) {
      if (e != 0) {
        ASSERT_EQ(e, 1.0f / 0.75f);
      }
    }
    {
      LearningPhase inference(false);
      EXPECT_FALSE(learning_phase());
      EXPECT_TRUE(drop(x).is_same(x));
    }
    EXPECT_TRUE(learning_phase()) << "the inner guard restored the outer phase";
  }
  EXPECT_FALSE(learning_phase());
}

TEST(NnDropout, LearningPhaseIsPerThread) {
  LearningPhase training(true);
  bool other = true;
  std::thread([&] { other = learning_phase(); }).join();
  EXPECT_FALSE(other);
  EXPECT_TRUE(learning_phase());
}

TEST(NnDropout, SeedRepeatsMasksAndAGeneratorIsUsedWhenGiven) {
  LearningPhase training(true);
  Tensor x = kiln::ones({20, 20});
  Dropout a(0.5, {.seed = 3}), b(0.5, {.seed = 3});
  std::vector<float> first = a(x).to_vector<float>();
  EXPECT_EQ(first, b(x).to_vector<float>());
  EXPECT_NE(first, a(x).to_vector<float>()) << "each call draws a new mask";
  kiln::Generator gen(8), replay(8);
  Dropout c(0.5, {.generator = &gen});
  EXPECT_EQ(c(x).to_vector<float>(), kiln::dropout(x, 0.5, true, &replay).to_vector<float>());
}

TEST(NnDropout, PredictRunsInTheInferencePhase) {
  Sequential model;
  model.add(Dense(8, {.input_dim = 4}));
  model.add(Dropout(0.5, {.seed = 1}));
  Tensor x = kiln::random_uniform({6, 4});
  LearningPhase training(true);
  Tensor predicted = model.predict(x, 4);
  Tensor inference;
  {
    LearningPhase off(false);
    inference = model(x);
  }
  EXPECT_EQ(predicted.to_vector<float>(), inference.to_vector<float>());
  EXPECT_TRUE(learning_phase()) << "predict restored the phase";
  EXPECT_GT(fraction_dropped(model(x)), 0.2) << "called directly in training, it drops";
}

// A small CNN-style stack trains through pooling and dropout with gradients.
TEST(NnPooling, SequentialWithPoolingAndDropoutHasGradients) {
  Sequential model;
  model.add(MaxPool2D({2, 2}));
  model.add(AveragePooling2D({2, 2}, {.strides = {1, 1}, .padding = "same"}));
  model.add(Flatten());
  model.add(Dropout(0.3, {.seed = 5}));
  model.add(Dense(3));
  Tensor x = kiln::random_uniform({4, 6, 6, 2});
  LearningPhase training(true);
  kiln::GradientTape tape;
  Tensor loss = kiln::reduce_mean(kiln::square(model(x)));
  std::vector<kiln::Variable> vars = model.trainable_variables();
  ASSERT_EQ(vars.size(), 2u);
  std::vector<Tensor> grads = tape.gradient(loss, vars);
  EXPECT_EQ(grads[0].shape(), (Shape{18, 3}));
  EXPECT_TRUE(grads[1].defined());
}

// kiln::function: the phase at trace time is baked in; a guard inside the step keeps dropping
// on every compiled call, each with a new mask.
TEST(NnDropout, UnderKilnFunctionThePhaseIsTheTraceTimeOne) {
  Dropout drop(0.5, {.seed = 21});
  auto train = kiln::function([&](const Tensor& x) {
    LearningPhase training(true);
    return drop(x);
  }, {.name = "train_drop"});
  auto infer = kiln::function([&](const Tensor& x) { return drop(x); }, {.name = "infer_drop"});
  Tensor x = kiln::ones({32, 32});
  Tensor a = train(x), b = train(x);
  EXPECT_NEAR(fraction_dropped(a), 0.5, 0.1);
  EXPECT_NE(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(train.compile_count(), 1) << train.explain();
  EXPECT_EQ(infer(x).to_vector<float>(), x.to_vector<float>());
  LearningPhase training(true);
  EXPECT_EQ(infer(x).to_vector<float>(), x.to_vector<float>()) << "traced in inference, it stays so";
}

}  // namespace
