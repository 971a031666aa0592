// Tests of kiln::nn::Conv2D: building from the input's channels, the forward pass (padding,
// strides, bias, activation), Keras's initializer fans, errors that name the layer and the
// shapes, gradients reaching both variables, and a Sequential CNN step compiled as eager.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kiln.h"
#include "tests/error_of.h"

namespace {
using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::Variable;
using namespace kiln::nn;
using kiln::test::error_of;
using kiln::test::has;

Tensor ramp(const Shape& shape, double scale, DType dtype = DType::Float32) {
  std::vector<double> v(static_cast<size_t>(shape.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<double>(i) * 0.7) * scale;
  return kiln::cast(Tensor::from_vector(v, shape), dtype);
}

TEST(NnConv2D, BuildsFromTheInputChannelsOnFirstCall) {
  Conv2D conv(4, {3, 2}, {}, "probe_conv");
  EXPECT_FALSE(conv.built());
  EXPECT_TRUE(has(error_of([&] { conv.kernel(); }), "before the layer is built"));
  Tensor y = conv(kiln::ones({2, 6, 5, 3}));
  EXPECT_EQ(y.shape(), (Shape{2, 4, 4, 4}));
  EXPECT_EQ(conv.kernel().shape(), (Shape{3, 2, 3, 4}));
  EXPECT_EQ(conv.bias().shape(), (Shape{4}));
  ASSERT_EQ(conv.variables().size(), 2u);
  EXPECT_EQ(conv.variables()[0].name(), "probe_conv/kernel");
  EXPECT_EQ(conv.variables()[1].name(), "probe_conv/bias");
  conv(kiln::ones({1, 4, 4, 3}));  // the same variables serve later calls
  EXPECT_EQ(conv.variables().size(), 2u);
}

// The layer is conv2d + bias + activation with its options; a 1x1 case checked by hand too.
TEST(NnConv2D, ForwardIsConvPlusBiasThenActivation) {
  Conv2D conv(3, {3, 3},
              {.strides = {2, 1}, .padding = "same", .activation = activations::relu,
               .kernel_initializer = [](const Shape& s, DType t) { return ramp(s, 0.5, t); },
               .bias_initializer = initializers::constant(0.1), .dtype = DType::Float64});
  Tensor x = ramp({2, 5, 4, 2}, 1.0, DType::Float64);
  Tensor y = conv(x);
  Tensor want = kiln::relu(kiln::conv2d(x, conv.kernel(), {2, 1}, "same") + conv.bias());
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4, 3}));
  EXPECT_EQ(y.to_vector<double>(), want.to_vector<double>());

  Conv2D pointwise(1, {1, 1}, {.use_bias = false, .kernel_initializer = initializers::constant(2.0)});
  Tensor p = pointwise(Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {1, 1, 3, 2}));
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{6, 14, 22}));
  EXPECT_TRUE(has(error_of([&] { pointwise.bias(); }), "use_bias = false"));
}

// glorot_uniform with Keras's conv fans: fan_in = KH*KW*C, fan_out = KH*KW*F.
TEST(NnConv2D, DefaultKernelIsGlorotUniformWithConvFans) {
  Conv2D conv(20, {5, 5});
  conv.build(1);
  const double limit = std::sqrt(6.0 / (5 * 5 * 1 + 5 * 5 * 20));
  double max_abs = 0;
  for (float v : conv.kernel().to_vector<float>()) max_abs = std::max(max_abs, std::fabs(static_cast<double>(v)));
  EXPECT_LE(max_abs, limit);
  EXPECT_GT(max_abs, 0.9 * limit);  // 500 draws reach near the limit
  for (float v : conv.bias().to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(NnConv2D, ErrorsNameTheLayerAndTheShapes) {
  Conv2D conv(20, {5, 5}, {}, "conv2d_1");
  EXPECT_EQ(error_of([&] { conv(kiln::zeros({28, 28, 1})); }),
            "Conv2D 'conv2d_1' expects a 4-D input [batch, height, width, channels], got float32[28,28,1]");
  conv(kiln::zeros({2, 28, 28, 1}));
  EXPECT_EQ(error_of([&] { conv(kiln::zeros({2, 28, 28, 3})); }),
            "Conv2D 'conv2d_1': input float32[2,28,28,3] has 3 channels, but the layer was built for 1 (kernel "
            "[5,5,1,20])");
  EXPECT_TRUE(has(error_of([&] { conv(kiln::zeros({2, 28, 28, 1}, DType::Float64)); }), "float64[2,28,28,1]"));
  EXPECT_EQ(error_of([&] { conv(kiln::zeros({2, 4, 28, 1})); }),
            "Conv2D 'conv2d_1': input float32[2,4,28,1] is smaller than the kernel [5,5] with padding \"valid\"");
  EXPECT_TRUE(has(error_of([] { Conv2D(0, {3, 3}, {}, "c"); }), "Conv2D 'c': filters must be positive, got 0"));
  EXPECT_TRUE(has(error_of([] { Conv2D(2, {3, 0}, {}, "c"); }), "kernel_size must be positive, got [3,0]"));
  EXPECT_TRUE(has(error_of([] { Conv2D(2, {3, 3}, {.strides = {1, 0}}, "c"); }), "strides must be positive, got [1,0]"));
  EXPECT_TRUE(has(error_of([] { Conv2D(2, {3, 3}, {.padding = "SAME"}, "c"); }),
                  "Conv2D 'c': padding must be \"valid\" or \"same\", got \"SAME\""));
  EXPECT_TRUE(has(error_of([] { Conv2D(2, {3, 3}, {.dtype = DType::Int32}, "c"); }), "int32"));
  auto wrong = [](const Shape&, DType) { return kiln::zeros({3, 3}); };
  EXPECT_TRUE(has(error_of([&] { Conv2D(2, {3, 3}, {.kernel_initializer = wrong}, "c").build(4); }), "[3,3,4,2]"));
}

TEST(NnConv2D, DefaultNamesAreUnique) {
  Conv2D a(1, {1, 1}), b(1, {1, 1});
  EXPECT_EQ(a.name().rfind("conv2d", 0), 0u) << a.name();
  EXPECT_NE(a.name(), b.name());
}

TEST(NnConv2D, GradientsReachKernelAndBias) {
  Conv2D conv(3, {2, 2}, {.activation = activations::relu, .bias_initializer = initializers::constant(0.5)});
  Tensor x = ramp({2, 4, 4, 2}, 1.0);
  kiln::GradientTape tape;
  Tensor loss = kiln::reduce_sum(kiln::square(conv(x)));
  std::vector<Variable> vars = conv.trainable_variables();
  std::vector<Tensor> g = tape.gradient(loss, vars);
  ASSERT_EQ(g.size(), 2u);
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_TRUE(g[i].defined());
    EXPECT_EQ(g[i].shape(), vars[i].shape());
    EXPECT_GT(kiln::reduce_sum(kiln::abs(g[i])).item<float>(), 0.0f) << vars[i].name();
  }
}

// The article's CNN in small: Conv2D(relu) x2, Flatten, Dense(relu), Dense, softmax
// cross-entropy, Adam; the step under kiln::function matches eager over three steps.
TEST(NnConv2D, SequentialCnnStepCompiledMatchesEager) {
  auto model = [] {
    Sequential m;
    m.add(Conv2D(4, {3, 3}, {.activation = activations::relu, .kernel_initializer = initializers::glorot_uniform(1)}));
    m.add(Conv2D(6, {3, 3}, {.activation = activations::relu, .kernel_initializer = initializers::glorot_uniform(2)}));
    m.add(Flatten());
    m.add(Dense(8, {.activation = activations::relu, .kernel_initializer = initializers::glorot_uniform(3)}));
    m.add(Dense(3, {.kernel_initializer = initializers::glorot_uniform(4)}));
    return m;
  };
  Sequential eager_model = model(), compiled_model = model();
  kiln::optim::Adam eager_opt({.learning_rate = 0.01}), compiled_opt({.learning_rate = 0.01});
  auto step_of = [](Sequential& m, kiln::optim::Adam& opt, const Tensor& x, const Tensor& y) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::sparse_softmax_cross_entropy_with_logits(y, m(x)));
    std::vector<Variable> vars = m.trainable_variables();
    opt.apply_gradients(tape.gradient(loss, vars), vars);
    return loss;
  };
  Tensor x0 = ramp({5, 8, 8, 1}, 1.0);
  compiled_model(x0);  // build the variables before tracing
  Tensor y0 = Tensor::from_vector<int32_t>({0, 1, 2, 1, 0}, {5});
  compiled_opt.build(compiled_model.trainable_variables());
  eager_model(x0);
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return step_of(compiled_model, compiled_opt, x, y); },
                             {.name = "cnn_step"});
  for (int s = 0; s < 3; ++s) {
    Tensor x = ramp({5, 8, 8, 1}, 1.0 + 0.1 * s);
    const float want = step_of(eager_model, eager_opt, x, y0).item<float>();
    const float got = step(x, y0).item<float>();
    EXPECT_NEAR(got, want, 1e-5 * std::max(1.0f, std::fabs(want))) << "step " << s;
  }
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  std::vector<Variable> a = eager_model.trainable_variables(), b = compiled_model.trainable_variables();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    std::vector<float> va = a[i].to_vector<float>(), vb = b[i].to_vector<float>();
    for (size_t j = 0; j < va.size(); ++j) ASSERT_NEAR(vb[j], va[j], 1e-5 * std::max(1.0f, std::fabs(va[j]))) << a[i].name();
  }
}

// A -1 batch dim (a smaller last batch): conv2d_backprop_input's shape attribute holds the batch
// size, which the trace must follow for every size.
TEST(NnConv2D, RelaxedBatchDimFollowsEveryBatchSize) {
  auto model = [] {
    Sequential m;
    m.add(Conv2D(3, {3, 3}, {.padding = "same", .activation = activations::relu,
                             .kernel_initializer = initializers::glorot_uniform(5)}));
    m.add(Conv2D(2, {2, 2}, {.strides = {2, 2}, .kernel_initializer = initializers::glorot_uniform(6)}));
    return m;
  };
  Sequential eager_model = model(), compiled_model = model();
  Tensor probe = ramp({1, 6, 6, 2}, 1.0);
  eager_model(probe);
  compiled_model(probe);
  // The input's gradient too, so that conv2d_backprop_input (with the batch in its shape) runs.
  auto grads = [](Sequential& m, const Tensor& x) {
    kiln::GradientTape tape;
    tape.watch({x});
    Tensor loss = kiln::reduce_sum(kiln::square(m(x)));
    std::vector<Tensor> sources = {x};
    for (const Variable& v : m.trainable_variables()) sources.push_back(v);
    return tape.gradient(loss, sources);
  };
  auto step = kiln::function([&](const Tensor& x) { return grads(compiled_model, x); },
                             {.name = "relaxed_conv", .input_signature = {kiln::TensorSpec{{-1, 6, 6, 2}}}});
  for (int64_t batch : {4, 4, 3, 1}) {
    Tensor x = ramp({batch, 6, 6, 2}, 0.5 + 0.1 * static_cast<double>(batch));
    std::vector<Tensor> want = grads(eager_model, x), got = step(x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].shape(), want[i].shape()) << "batch " << batch << ", gradient " << i;
      std::vector<float> g = got[i].to_vector<float>(), w = want[i].to_vector<float>();
      for (size_t j = 0; j < g.size(); ++j) ASSERT_NEAR(g[j], w[j], 1e-5 * std::max(1.0f, std::fabs(w[j]))) << "batch " << batch;
    }
  }
  EXPECT_EQ(step.trace_count(), 1) << step.explain();
  // Note [One compiled code for every size]: conv2d and its backprops follow a -1 batch dim, so
  // every batch size (4, 3, 1) runs one compiled code.
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  EXPECT_NE(step.explain().find("shared by -1 dims = [4] [3] [1]"), std::string::npos) << step.explain();
}

}  // namespace
