// Tests of kiln::nn: Module variable tracking, Dense, Flatten, Sequential, initializers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/error_of.h"
#include "kiln/autodiff/gradient_tape.h"
#include "kiln/nn/activations.h"
#include "kiln/nn/initializers.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/module.h"
#include "kiln/nn/sequential.h"
#include "kiln/ops.h"

namespace {
using kiln::DType;
using kiln::GradientTape;
using kiln::Shape;
using kiln::Tensor;
using kiln::Variable;
using namespace kiln::nn;

using kiln::test::error_of;

// An initializer that returns fixed values (checked against the requested shape).
Initializer fixed(std::vector<double> values) {
  return [values](const Shape& shape, DType dtype) {
    EXPECT_EQ(shape.num_elements(), static_cast<int64_t>(values.size()));
    return kiln::cast(Tensor::from_vector(values, shape), dtype);
  };
}

std::vector<std::string> names_of(const std::vector<Variable>& vars) {
  std::vector<std::string> out;
  for (const Variable& v : vars) out.push_back(v.name());
  return out;
}

// ---- Dense ----

TEST(NnDense, ForwardMatchesHandComputation) {
  // kernel [3,2] = [[1,2],[3,4],[5,6]], bias [0.5,-1]; x = [[1,0,-1],[2,1,0]]
  // x @ kernel = [[-4,-4],[5,8]]; + bias = [[-3.5,-5],[5.5,7]].
  DenseOptions opts{.kernel_initializer = fixed({1, 2, 3, 4, 5, 6}),
                    .bias_initializer = fixed({0.5, -1}),
                    .input_dim = 3,
                    .dtype = DType::Float64};
  Dense linear(2, opts, "linear");
  Tensor x = Tensor::from_vector<double>({1, 0, -1, 2, 1, 0}, {2, 3});
  Tensor y = linear(x);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-3.5, -5, 5.5, 7}));

  opts.activation = activations::relu;
  Dense relu(2, opts, "relu");
  EXPECT_EQ(relu(x).to_vector<double>(), (std::vector<double>{0, 0, 5.5, 7}));

  DenseOptions no_bias = opts;
  no_bias.use_bias = false;
  no_bias.activation = {};
  Dense nb(2, no_bias, "no_bias");
  EXPECT_EQ(nb(x).to_vector<double>(), (std::vector<double>{-4, -4, 5, 8}));
  EXPECT_EQ(nb.variables().size(), 1u);
  EXPECT_NE(error_of([&] { nb.bias(); }).find("use_bias"), std::string::npos);
}

TEST(NnDense, Float32ForwardWithDefaultInitializers) {
  Dense d(3, {.input_dim = 2}, "f32");
  EXPECT_EQ(d.kernel().dtype(), DType::Float32);
  EXPECT_EQ(d.bias().to_vector<float>(), (std::vector<float>{0, 0, 0}));  // zeros() by default
  Tensor x = Tensor::from_vector<float>({1, 2}, {1, 2});
  std::vector<float> k = d.kernel().to_vector<float>(), y = d(x).to_vector<float>();
  for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(y[j], k[j] + 2 * k[3 + j]);
}

TEST(NnDense, BuildsLazilyOnFirstCall) {
  Dense d(4, {}, "lazy");
  EXPECT_FALSE(d.built());
  EXPECT_TRUE(d.variables().empty());
  EXPECT_NE(error_of([&] { d.kernel(); }).find("before the layer is built"), std::string::npos);
  Tensor y = d(kiln::ones({2, 3}));
  EXPECT_TRUE(d.built());
  EXPECT_EQ(y.shape(), (Shape{2, 4}));
  EXPECT_EQ(d.kernel().shape(), (Shape{3, 4}));
  EXPECT_EQ(d.bias().shape(), (Shape{4}));
  EXPECT_EQ(names_of(d.variables()), (std::vector<std::string>{"lazy/kernel", "lazy/bias"}));
  // The second call reuses the same variables.
  d(kiln::ones({5, 3}));
  EXPECT_EQ(d.variables().size(), 2u);
  EXPECT_TRUE(d.variables()[0].is_same(d.kernel()));
}

TEST(NnDense, InputDimBuildsAtConstruction) {
  Dense d(3, {.input_dim = 5}, "eager");
  EXPECT_TRUE(d.built());
  EXPECT_EQ(d.units(), 3);
  EXPECT_EQ(d.kernel().shape(), (Shape{5, 3}));
  EXPECT_EQ(d.trainable_variables().size(), 2u);
  EXPECT_TRUE(d.kernel().trainable());
}

TEST(NnDense, WrongInputShapeNamesLayerAndShapes) {
  Dense d(3, {.input_dim = 4}, "probe");
  std::string msg = error_of([&] { d(kiln::ones({2, 5})); });
  EXPECT_NE(msg.find("probe"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2,5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4,3]"), std::string::npos) << msg;

  msg = error_of([&] { d(kiln::ones({4})); });
  EXPECT_NE(msg.find("probe"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank-2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;

  msg = error_of([&] { d(kiln::ones({2, 4}, DType::Float64)); });
  EXPECT_NE(msg.find("float64[2,4]"), std::string::npos) << msg;

  // A lazily built layer remembers the width of its first input.
  Dense lazy(2, {}, "lazy_probe");
  lazy(kiln::ones({1, 3}));
  msg = error_of([&] { lazy(kiln::ones({1, 6})); });
  EXPECT_NE(msg.find("lazy_probe"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1,6]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3,2]"), std::string::npos) << msg;
}

TEST(NnDense, BadConstructionArgumentsThrow) {
  EXPECT_NE(error_of([] { Dense(0); }).find("units must be positive"), std::string::npos);
  EXPECT_NE(error_of([] { Dense(2, {.input_dim = 3, .dtype = DType::Int32}); }).find("int32"), std::string::npos);
  auto wrong_shape = [](const Shape&, DType) { return kiln::zeros({2}); };
  std::string msg = error_of([&] { Dense(2, {.kernel_initializer = wrong_shape, .input_dim = 3}, "bad_init"); });
  EXPECT_NE(msg.find("bad_init"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3,2]"), std::string::npos) << msg;
}

TEST(NnDense, DefaultNamesAreUnique) {
  Dense a(1), b(1);
  EXPECT_EQ(a.name().rfind("dense", 0), 0u) << a.name();
  EXPECT_EQ(b.name().rfind("dense", 0), 0u) << b.name();
  EXPECT_NE(a.name(), b.name());
}

// ---- Flatten ----

TEST(NnFlatten, CollapsesAllButTheBatchDimension) {
  Flatten f;
  std::vector<float> values(24);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  Tensor y = f(Tensor::from_vector(values, {2, 3, 4}));
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(y.to_vector<float>(), values);
  EXPECT_EQ(f(kiln::ones({5})).shape(), (Shape{5, 1}));
  EXPECT_EQ(f(kiln::ones({0, 3, 2})).shape(), (Shape{0, 6}));
  EXPECT_EQ(f(kiln::ones({4, 7})).shape(), (Shape{4, 7}));
  EXPECT_NE(error_of([&] { f(kiln::ones({})); }).find("rank >= 1"), std::string::npos);
  EXPECT_TRUE(f.variables().empty());
}

// ---- Module ----

class Inner : public Module {
 public:
  Inner() : Module("inner") {
    scale = add_variable("scale", kiln::ones({2}));
    count = add_variable("count", kiln::zeros({}, DType::Int64), /*trainable=*/false);
    fc = add_module("fc", std::make_shared<Dense>(2, DenseOptions{.input_dim = 2}, "inner_fc"));
  }
  Variable scale, count;
  std::shared_ptr<Dense> fc;
};

class Outer : public Module {
 public:
  Outer() : Module("outer") {
    inner = add_module("inner", std::make_shared<Inner>());
    head = add_module("head", std::make_shared<Dense>(1, DenseOptions{.input_dim = 2}, "head"));
    shared = add_module("shared", inner->fc);  // the same layer reached a second way
    bias = add_variable("bias", kiln::zeros({1}));
  }
  std::shared_ptr<Inner> inner;
  std::shared_ptr<Dense> head, shared;
  Variable bias;
};

TEST(NnModule, NestedVariablesInRegistrationOrderWithoutDuplicates) {
  Outer m;
  EXPECT_EQ(m.name(), "outer");
  EXPECT_EQ(names_of(m.variables()),
            (std::vector<std::string>{"outer/bias", "inner/scale", "inner/count", "inner_fc/kernel", "inner_fc/bias",
                                      "head/kernel", "head/bias"}));
  EXPECT_EQ(names_of(m.trainable_variables()),
            (std::vector<std::string>{"outer/bias", "inner/scale", "inner_fc/kernel", "inner_fc/bias", "head/kernel",
                                      "head/bias"}));
  // The handles are the layers' own variables, not copies.
  EXPECT_TRUE(m.trainable_variables()[2].is_same(m.inner->fc->kernel()));
  EXPECT_FALSE(m.inner->count.trainable());
}

TEST(NnModule, CopiesShareVariables) {
  Inner a;
  Inner b = a;
  ASSERT_EQ(a.variables().size(), b.variables().size());
  for (size_t i = 0; i < a.variables().size(); ++i) EXPECT_TRUE(a.variables()[i].is_same(b.variables()[i]));
  // Two module objects that share variables: the parent lists each variable once.
  class Parent : public Module {
   public:
    Parent(const Inner& x, const Inner& y) : Module("parent") {
      add_module("x", std::make_shared<Inner>(x));
      add_module("y", std::make_shared<Inner>(y));
    }
  };
  Parent p(a, b);
  EXPECT_EQ(names_of(p.variables()),
            (std::vector<std::string>{"inner/scale", "inner/count", "inner_fc/kernel", "inner_fc/bias"}));
}

// ---- Sequential ----

TEST(NnSequential, CallsLayersInOrderAndCollectsTheirVariables) {
  Sequential model("model");
  model.add(Dense(3, {.activation = activations::relu, .input_dim = 2}, "l1"));
  auto l2 = std::make_shared<Dense>(2, DenseOptions{}, "l2");
  model.add(l2).add(Flatten("flat"));
  EXPECT_EQ(model.size(), 3u);
  EXPECT_EQ(model.layer(1).name(), "l2");
  EXPECT_EQ(&model.layer(1), l2.get());
  std::string msg = error_of([&] { model.layer(3); });
  EXPECT_NE(msg.find("model"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 layers"), std::string::npos) << msg;

  Tensor x = Tensor::from_vector<float>({1, -2, 0.5f, 3}, {2, 2});
  Tensor y = model(x);  // builds l2 lazily
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  auto& l1 = static_cast<Dense&>(model.layer(0));
  Tensor expected = kiln::matmul(kiln::relu(kiln::matmul(x, l1.kernel()) + l1.bias()), l2->kernel()) + l2->bias();
  std::vector<float> got = y.to_vector<float>(), want = expected.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]);

  EXPECT_EQ(names_of(model.trainable_variables()),
            (std::vector<std::string>{"l1/kernel", "l1/bias", "l2/kernel", "l2/bias"}));
}

TEST(NnSequential, VectorConstructorNestingAndDedupe) {
  auto shared = std::make_shared<Dense>(2, DenseOptions{.input_dim = 2}, "twice");
  Sequential inner({shared, std::make_shared<Dense>(2, DenseOptions{.input_dim = 2}, "after")}, "inner_seq");
  Sequential outer;
  outer.add(std::move(inner)).add(shared);  // `shared` is also inside `inner`
  EXPECT_EQ(names_of(outer.trainable_variables()),
            (std::vector<std::string>{"twice/kernel", "twice/bias", "after/kernel", "after/bias"}));
  EXPECT_EQ(outer(kiln::ones({3, 2})).shape(), (Shape{3, 2}));
}

// Records the row counts it is called with.
class RowCounter : public Layer {
 public:
  RowCounter() : Layer("row_counter") {}
  Tensor call(const Tensor& x) override {
    rows.push_back(x.dim(0));
    return x * 2.0f;
  }
  std::vector<int64_t> rows;
};

TEST(NnLayer, PredictSlicesTheBatchDim) {
  RowCounter counter;
  Tensor x = kiln::random_normal({10, 2});
  Tensor y = counter.predict(x, 4);
  EXPECT_EQ(counter.rows, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(y.to_vector<float>(), (x * 2.0f).to_vector<float>());
}

TEST(NnLayer, PredictRunsInBatchesAndMatchesOneCall) {
  Sequential model("predictor");
  model.add(Dense(5, {.activation = activations::relu, .input_dim = 3}));
  model.add(Dense(2, {.input_dim = 5}));
  Tensor x = kiln::random_normal({23, 3});
  Tensor whole = model(x);
  for (int64_t batch : {1, 4, 10, 23, 100}) {
    Tensor got = model.predict(x, batch);
    EXPECT_EQ(got.shape(), (Shape{23, 2})) << batch;
    std::vector<float> g = got.to_vector<float>(), w = whole.to_vector<float>();
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], 1e-5f * (1 + std::fabs(w[i]))) << batch;
  }
  // Nothing reaches an active tape.
  GradientTape tape;
  Tensor y = kiln::reduce_sum(model.predict(x, 8));
  EXPECT_FALSE(tape.gradient(y, model.trainable_variables())[0].defined());
  EXPECT_NE(error_of([&] { model.predict(x, 0); }).find("predictor"), std::string::npos);
  EXPECT_NE(error_of([&] { model.predict(Tensor::scalar(1.0f)); }).find("batch dim"), std::string::npos);
}

TEST(NnSequential, EmptyOrNullThrows) {
  Sequential empty("empty_model");
  EXPECT_NE(error_of([&] { empty(kiln::ones({1, 1})); }).find("empty_model"), std::string::npos);
  EXPECT_NE(error_of([&] { empty.add(std::shared_ptr<Layer>()); }).find("null"), std::string::npos);
}

TEST(NnSequential, LayerErrorsNameTheFailingLayer) {
  Sequential model;
  model.add(Dense(3, {.input_dim = 4}, "first")).add(Dense(2, {.input_dim = 5}, "second"));
  std::string msg = error_of([&] { model(kiln::ones({1, 4})); });
  EXPECT_NE(msg.find("second"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1,3]"), std::string::npos) << msg;
}

// ---- Initializers ----

TEST(NnInitializers, GlorotUniformStaysWithinTheKerasLimit) {
  const double limit = std::sqrt(6.0 / (300 + 200));
  Tensor w = initializers::glorot_uniform(42)({300, 200}, DType::Float64);
  EXPECT_EQ(w.shape(), (Shape{300, 200}));
  EXPECT_EQ(w.dtype(), DType::Float64);
  std::vector<double> v = w.to_vector<double>();
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, -limit);
  EXPECT_LT(*hi, limit);
  // 60000 uniform draws fill the interval and centre on zero.
  EXPECT_LT(*lo, -0.99 * limit);
  EXPECT_GT(*hi, 0.99 * limit);
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  EXPECT_NEAR(mean, 0.0, 0.01 * limit);
}

TEST(NnInitializers, SeededInitializersAreDeterministic) {
  auto draw = [](std::optional<uint64_t> seed) {
    return initializers::glorot_uniform(seed)({4, 5}, DType::Float32).to_vector<float>();
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
  // A seeded initializer gives the same values on every call (Keras's seeded behaviour).
  Initializer init = initializers::glorot_uniform(3);
  EXPECT_EQ(init({4, 5}, DType::Float32).to_vector<float>(), init({4, 5}, DType::Float32).to_vector<float>());
  // Unseeded draws come from the global generator: reproducible after set_seed, fresh otherwise.
  kiln::set_seed(11);
  std::vector<float> a = draw(std::nullopt), b = draw(std::nullopt);
  kiln::set_seed(11);
  EXPECT_EQ(draw(std::nullopt), a);
  EXPECT_NE(a, b);
  // Seeded Dense layers are reproducible.
  Dense d1(3, {.kernel_initializer = initializers::glorot_uniform(5), .input_dim = 4});
  Dense d2(3, {.kernel_initializer = initializers::glorot_uniform(5), .input_dim = 4});
  EXPECT_EQ(d1.kernel().to_vector<float>(), d2.kernel().to_vector<float>());
}

TEST(NnInitializers, FansFollowKeras) {
  auto fans = initializers::compute_fans({3, 3, 8, 16});
  EXPECT_EQ(fans.fan_in, 72);
  EXPECT_EQ(fans.fan_out, 144);
  fans = initializers::compute_fans({4, 20});
  EXPECT_EQ(fans.fan_in, 4);
  EXPECT_EQ(fans.fan_out, 20);
  fans = initializers::compute_fans({7});
  EXPECT_EQ(fans.fan_in, 7);
  EXPECT_EQ(fans.fan_out, 7);
}

TEST(NnInitializers, TruncatedNormalZerosConstant) {
  std::vector<double> t = initializers::truncated_normal(1.0, 0.5, 9)({1000}, DType::Float64).to_vector<double>();
  for (double x : t) {
    EXPECT_GE(x, 0.0);
    EXPECT_LE(x, 2.0);
  }
  EXPECT_EQ(t, initializers::truncated_normal(1.0, 0.5, 9)({1000}, DType::Float64).to_vector<double>());
  EXPECT_EQ(initializers::zeros()({2, 2}, DType::Float32).to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(initializers::constant(0.1)({3}, DType::Float64).to_vector<double>(),
            (std::vector<double>{0.1, 0.1, 0.1}));
  EXPECT_NE(error_of([] { initializers::glorot_uniform()({2, 2}, DType::Int32); }).find("glorot_uniform"),
            std::string::npos);
}

}  // namespace
