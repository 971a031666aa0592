// Compiled code with dynamic dims (Note [Dynamic dims]): one CompiledGraph run at several sizes,
// its argument checks, the temporary buffer cache (no allocation on a second call at a size),
// a classifier step with sparse labels, accuracy and dropout, and the golden traced stage.
#include <functional>

#include "kernels/cpu/jit/temporary_buffers.h"
#include "kiln/tracer/signature.h"
#include "tests/compiler/compiler_test_util.h"
#include "tests/error_of.h"

namespace kiln::test {
namespace {

using compiler::CompiledGraph;

// Traces `fn` on symbolic arguments whose shapes may hold symbols (Note [Symbolic dims]: s0 is
// 7 and s1 is 11 while tracing). The trace must not depend on those sizes (no guard) unless
// `guards` takes them.
ir::Graph trace_template(const std::string& name, const GraphFn& fn, const std::vector<Shape>& shapes,
                             std::vector<std::string>* guards = nullptr) {
  ir::Graph g;
  g.name = name;
  DimScope scope{{7, 11}, {"argument 0 dim 0", "argument 1 dim 0"}, {}, nullptr};
  DimScope* outer = set_dim_scope(&scope);
  {
    tracer::TraceContext ctx(g, true);
    std::vector<Tensor> args;
    for (size_t k = 0; k < shapes.size(); ++k) args.push_back(ctx.add_argument(k, DType::Float32, shapes[k]));
    ctx.set_outputs(fn(args));
  }
  set_dim_scope(outer);
  if (guards != nullptr) *guards = scope.guards;
  else EXPECT_EQ(scope.guards, std::vector<std::string>{}) << name;
  return g.pruned();
}

const int64_t N = symbol_dim(0);

// Every output of `cg` on `args` against `fn`'s (eager), `where` naming the case in failures.
void expect_outputs_match(const CompiledGraph& cg, const GraphFn& fn, const std::vector<Tensor>& args,
                          const std::string& where) {
  const std::vector<Tensor> got = cg.run(args), want = fn(args);
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(tensors_match(got[i], want[i])) << where << ", output " << i;
}

TEST(CompiledDynamic, OneCodeRunsEverySizeAndChecksItsArguments) {
  auto fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{kiln::exp(a[0]) + a[1], kiln::reduce_sum(a[1], {0})}; };
  ir::Graph g = trace_template("add", fn, {Shape::of_dims({N, 4}), Shape::of_dims({N, 4})});
  ASSERT_EQ(compiler::dynamic_gap(g), "");
  auto cg = CompiledGraph::compile(g);
  EXPECT_NE(cg->stage_text(Stage::Traced).find("tensor<?x4xf32>"), std::string::npos);
  for (int64_t n : {5, 1, 9}) {
    std::vector<Tensor> args = {random_values({n, 4}, DType::Float32, -1, 1, 1), random_values({n, 4}, DType::Float32, -1, 1, 2)};
    std::vector<Tensor> got = cg->run(args), want = fn(args);
    EXPECT_TRUE(tensors_match(got[0], want[0])) << "n = " << n;
    EXPECT_TRUE(tensors_match(got[1], want[1])) << "n = " << n;
  }
  std::string msg = error_of([&] {
    cg->run({random_values({5, 3}, DType::Float32, -1, 1, 1), random_values({5, 3}, DType::Float32, -1, 1, 2)});
  });
  EXPECT_NE(msg.find("kiln::function 'add': argument 0 is float32[5,3], the compiled code takes float32[?,4]"), std::string::npos)
      << msg;
  msg = error_of([&] {
    cg->run({random_values({5, 4}, DType::Float32, -1, 1, 1), random_values({6, 4}, DType::Float32, -1, 1, 2)});
  });
  EXPECT_NE(msg.find("kiln::function 'add': argument 1 dim 0 is 6 but argument 0 dim 0 is 5: the compiled code gives them "
                     "one size"),
            std::string::npos)
      << msg;
}

// Batched matmuls over a -1 dim (rank 4: the batch dims collapsed into one `?` dim and expanded
// back with the call's size; a^T b^T through a transposed copy) are one batched GEMM call.
TEST(CompiledDynamic, BatchedMatmulOverAMinusOneDim) {
  for (bool both : {false, true}) {
    auto fn = [both](const std::vector<Tensor>& a) { return std::vector<Tensor>{kiln::matmul(a[0], a[1], both, both)}; };
    ir::Graph g = trace_template("bmm", fn, {Shape::of_dims({N, 3, 5, 4}), both ? Shape::of_dims({N, 3, 6, 5}) : Shape::of_dims({N, 3, 4, 6})});
    ASSERT_EQ(compiler::dynamic_gap(g), "");
    auto cg = CompiledGraph::compile(g);
    EXPECT_NE(cg->stage_text(Stage::Bufferized).find("call @kiln_batch_gemm_f32"), std::string::npos);
    for (int64_t n : {2, 1, 3}) {
      std::vector<Tensor> args = {random_values({n, 3, 5, 4}, DType::Float32, -1, 1, 1),
                                  random_values(both ? Shape::of_dims({n, 3, 6, 5}) : Shape::of_dims({n, 3, 4, 6}), DType::Float32, -1, 1, 2)};
      EXPECT_TRUE(tensors_match(cg->run(args)[0], fn(args)[0])) << "n = " << n << (both ? " a^T b^T" : "");
    }
  }
}

// Batch dims of two symbols collapse to one `?` and come back as a tensor.reshape (Note [Two
// dynamic dims in one expansion]): MLIR 19 aborted the process on the expand_shape (fuzz seed 202327).
TEST(CompiledDynamic, BatchedMatmulOverTwoMinusOneBatchDims) {
  auto fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{kiln::matmul(a[0], a[1])}; };
  ir::Graph g = trace_template("bmm2", fn, {Shape::of_dims({N, N, 3, 4}), Shape::of_dims({N, N, 4, 2})});
  ASSERT_EQ(compiler::dynamic_gap(g), "");
  auto cg = CompiledGraph::compile(g);
  for (int64_t n : {2, 3})
    expect_outputs_match(*cg, fn, {random_values({n, n, 3, 4}, DType::Float32, -1, 1, 1), random_values({n, n, 4, 2}, DType::Float32, -1, 1, 2)},
                         "n = " + std::to_string(n));
}

// A dim built from two -1 dims (Note [Symbolic dims]: the monomial s0*s1) is computed from the
// call's sizes: reshape's collapse, the mean's count, the gradient's count. Under placeholders
// it was a baked constant.
TEST(CompiledDynamic, ProductOfTwoMinusOneDimsCompilesOnce) {
  const int64_t M = symbol_dim(1);
  auto fn = [](const std::vector<Tensor>& a) {
    GradientTape tape;
    tape.watch({a[0]});
    Tensor loss = kiln::reduce_mean(kiln::square(kiln::reshape(a[0], {-1})));
    return std::vector<Tensor>{loss, tape.gradient(loss, {a[0]})[0]};
  };
  ir::Graph g = trace_template("flat", fn, {Shape::of_dims({N, M})});
  ASSERT_EQ(compiler::dynamic_gap(g), "");
  auto cg = CompiledGraph::compile(g);
  for (auto [n, m] : std::vector<std::pair<int64_t, int64_t>>{{3, 4}, {1, 7}, {5, 2}})
    expect_outputs_match(*cg, fn, {random_values({n, m}, DType::Float32, -1, 1, static_cast<uint32_t>(n * m))},
                         ::testing::PrintToString(std::vector<int64_t>{n, m}));
}

// A classifier's training step with Adam and one-hot labels, as the iris example trains: the
// layers `build` adds (the Dense 4-16-3 of dense_layers unless given).
void dense_layers(nn::Sequential& model) {
  namespace init = nn::initializers;
  model.add(nn::Dense(16, {.activation = nn::activations::relu, .kernel_initializer = init::glorot_uniform(7), .input_dim = 4}));
  model.add(nn::Dense(3, {.kernel_initializer = init::glorot_uniform(8), .input_dim = 16}));
}

struct Classifier {
  nn::Sequential model;
  optim::Adam opt{{.learning_rate = 0.01}};
  explicit Classifier(const std::function<void(nn::Sequential&)>& build = dense_layers) { build(model); }
  Tensor step(const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(y, model(x)));
    std::vector<Variable> vars = model.trainable_variables();
    opt.apply_gradients(tape.gradient(loss, vars), vars);
    return loss;
  }
};

Tensor features(int64_t n, uint32_t seed) { return random_values({n, 4}, DType::Float32, -1, 1, seed); }
Tensor one_hot_of(int64_t n, uint32_t seed) {
  return kiln::one_hot(kiln::cast(random_values({n}, DType::Float32, 0, 3, seed), DType::Int64), 3);
}

// Note [Temporary buffer cache]: the dynamic step's temporaries are memref.allocs (the bufferized
// stage shows them), served by the cache: after the first call at a size, calls at that size or
// a smaller one take nothing from the system allocator.
TEST(CompiledDynamic, SecondCallAtASizeAllocatesNothing) {
  Classifier c;
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return c.step(x, y); },
                             {.name = "dense_step", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}});
  step(features(16, 1), one_hot_of(16, 2));
  const std::string bufferized = step.lower(Stage::Bufferized, features(16, 1), one_hot_of(16, 2));
  EXPECT_NE(bufferized.find("memref.alloc("), std::string::npos) << "the dynamic step has dynamic temporaries";
  const kiln::kernels::jit::TemporaryBufferStats first = kiln::kernels::jit::temporary_buffer_stats();
  step(features(16, 3), one_hot_of(16, 4));
  const kiln::kernels::jit::TemporaryBufferStats second = kiln::kernels::jit::temporary_buffer_stats();
  EXPECT_EQ(second.system_allocations, first.system_allocations);
  EXPECT_GT(second.reuses, first.reuses) << "the second call's temporaries came from the cache";
  step(features(8, 5), one_hot_of(8, 6));  // a smaller last batch
  EXPECT_EQ(kiln::kernels::jit::temporary_buffer_stats().system_allocations, first.system_allocations);
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
}

// Golden: the traced stage of the dynamic step: `?` batch dims, sizes read once with tensor.dim,
// tensor.empty with a size operand, and reduce_mean's 1/N computed from N (arith.divf), not a literal.
TEST(CompilerGolden, DynamicDenseStepTracesQuestionMarkDims) {
  Classifier c;
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return c.step(x, y); },
                             {.name = "dense_step", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}});
  const std::string traced = step.lower(Stage::Traced, features(16, 1), one_hot_of(16, 2));
  EXPECT_TRUE(file_check("dynamic_step.traced.mlir", traced));
}

// Sparse labels, the accuracy ops (argmax, equal, cast, mean) and dropout: one code for all sizes.
TEST(CompiledDynamic, SparseLabelsAccuracyAndDropoutShareTheCode) {
  Variable w(random_values({4, 3}, DType::Float32, -1, 1, 9), true, "w");
  auto body = [&](const Tensor& x, const Tensor& labels) {
    GradientTape tape;
    Tensor logits = kiln::matmul(x, w);
    Tensor loss = kiln::reduce_mean(kiln::sparse_softmax_cross_entropy_with_logits(labels, logits));
    Tensor g = tape.gradient(loss, {w})[0];
    Tensor accuracy = kiln::reduce_mean(kiln::cast(kiln::equal(kiln::argmax(logits, 1), labels), DType::Float32));
    return std::vector<Tensor>{loss, g, accuracy};
  };
  auto f = kiln::function(body, {.name = "sparse", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1}, DType::Int64}}});
  for (int64_t n : {12, 5, 12}) {
    Tensor x = features(n, static_cast<uint32_t>(n)), labels = kiln::cast(random_values({n}, DType::Float32, 0, 3, 3), DType::Int64);
    std::vector<Tensor> got = f(x, labels), want = body(x, labels);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(tensors_match(got[k], want[k])) << "n = " << n << ", output " << k;
  }
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
  std::string msg = error_of([&] { f(features(2, 1), Tensor::from_vector<int64_t>({0, 3})); });
  EXPECT_NE(msg.find("label 3 at row 1 is outside [0, 3)"), std::string::npos) << msg;

  auto drop = kiln::function([](const Tensor& x) { return kiln::dropout(x, 0.5, true); },
                             {.name = "drop", .input_signature = {TensorSpec{{-1, 4}}}});
  for (int64_t n : {6, 3}) {
    Tensor x = kiln::ones({n, 4});
    std::vector<float> y = drop(x).to_vector<float>();
    ASSERT_EQ(y.size(), static_cast<size_t>(n * 4));
    for (float v : y) EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;
  }
  EXPECT_EQ(drop.compile_count(), 1) << drop.explain();
}


// ---- Convolutions over a -1 batch dim (Note [Convolutions in compiled code]) ----

// conv2d and its two backprops ("valid" and "same" with strides, and conv2d + bias + relu as one
// fused call) compiled once with a `?` batch, run at several batch sizes against eager.
TEST(CompiledDynamic, ConvolutionsAndTheirBackpropsOverAMinusOneBatch) {
  struct Case {
    std::array<int64_t, 2> strides;
    std::string padding;
    int64_t oh;
  };
  for (const Case& k : {Case{{1, 1}, "valid", 4}, Case{{2, 2}, "same", 3}}) {
    auto fn = [&](const std::vector<Tensor>& a) {
      return std::vector<Tensor>{kiln::conv2d(a[0], a[1], k.strides, k.padding),
                                 kiln::conv2d_backprop_input(a[0].shape(), a[1], a[2], k.strides, k.padding),
                                 kiln::conv2d_backprop_filter(a[0], a[1].shape(), a[2], k.strides, k.padding)};
    };
    ir::Graph g = trace_template("conv", fn, {Shape::of_dims({N, 6, 6, 2}), Shape{3, 3, 2, 4}, Shape::of_dims({N, k.oh, k.oh, 4})});
    ASSERT_EQ(compiler::dynamic_gap(g), "");
    auto cg = CompiledGraph::compile(g);
    const std::string traced = cg->stage_text(Stage::Traced);
    EXPECT_NE(traced.find("memref<?x6x6x2xf32>"), std::string::npos) << traced;
    for (int64_t n : {8, 5, 1, 8}) {
      std::vector<Tensor> args = {random_values({n, 6, 6, 2}, DType::Float32, -1, 1, 1),
                                  random_values({3, 3, 2, 4}, DType::Float32, -1, 1, 2),
                                  random_values({n, k.oh, k.oh, 4}, DType::Float32, -1, 1, 3)};
      expect_outputs_match(*cg, fn, args, k.padding + ", n = " + std::to_string(n));
    }
  }
  auto biased = [](const std::vector<Tensor>& a) {
    return std::vector<Tensor>{kiln::relu(kiln::conv2d(a[0], a[1], {1, 1}, "same") + a[2])};
  };
  ir::Graph g = trace_template("conv_bias", biased, {Shape::of_dims({N, 5, 5, 3}), Shape{3, 3, 3, 4}, Shape{4}});
  ASSERT_EQ(compiler::dynamic_gap(g), "");
  auto cg = CompiledGraph::compile(g);
  EXPECT_NE(cg->stage_text(Stage::Bufferized).find("call @kiln_conv2d_bias_f32"), std::string::npos)
      << "the bias and relu fold into the call with a `?` batch too";
  for (int64_t n : {3, 2, 7}) {
    std::vector<Tensor> args = {random_values({n, 5, 5, 3}, DType::Float32, -1, 1, 4),
                                random_values({3, 3, 3, 4}, DType::Float32, -1, 1, 5), random_values({4}, DType::Float32, -1, 1, 6)};
    EXPECT_TRUE(tensors_match(cg->run(args)[0], biased(args)[0])) << "n = " << n;
  }
}

// The MNIST CNN's shape at small sizes (Conv2D, Conv2D, Flatten, Dense, Dense, Adam) with a -1
// batch: one trace, one compile for batches 8, 5, 8; loss and every variable as eager's after each
// step; after the first call at a size no temporary comes from the system allocator.
TEST(CompiledDynamic, CnnTrainStepCompilesOnceForEveryBatch) {
  auto cnn = [](nn::Sequential& model) {
    namespace init = nn::initializers;
    model.add(nn::Conv2D(4, {3, 3}, {.activation = nn::activations::relu, .kernel_initializer = init::glorot_uniform(1)}));
    model.add(nn::Conv2D(5, {3, 3}, {.activation = nn::activations::relu, .kernel_initializer = init::glorot_uniform(2)}));
    model.add(nn::Flatten());
    model.add(nn::Dense(12, {.activation = nn::activations::relu, .kernel_initializer = init::glorot_uniform(3)}));
    model.add(nn::Dense(3, {.kernel_initializer = init::glorot_uniform(4)}));
    model(kiln::zeros({1, 8, 8, 1}));  // builds the variables
  };
  Classifier eager(cnn), compiled(cnn);
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return compiled.step(x, y); },
                             {.name = "cnn_step", .input_signature = {TensorSpec{{-1, 8, 8, 1}}, TensorSpec{{-1, 3}}}});
  kiln::kernels::jit::TemporaryBufferStats after_first{};
  int64_t calls = 0;
  for (int64_t n : {8, 5, 8, 5}) {
    const uint32_t seed = static_cast<uint32_t>(10 + calls);
    Tensor x = random_values({n, 8, 8, 1}, DType::Float32, 0, 1, seed), y = one_hot_of(n, seed);
    Tensor got = step(x, y), want = eager.step(x, y);
    EXPECT_TRUE(tensors_match(got, want)) << "n = " << n << ", call " << calls;
    std::vector<Variable> gv = compiled.model.trainable_variables(), wv = eager.model.trainable_variables();
    for (size_t i = 0; i < gv.size(); ++i)
      EXPECT_TRUE(tensors_match(gv[i], wv[i])) << "n = " << n << ", call " << calls << ", " << wv[i].name();
    if (++calls == 2) after_first = kiln::kernels::jit::temporary_buffer_stats();  // 8 and 5 seen
  }
  EXPECT_EQ(kiln::kernels::jit::temporary_buffer_stats().system_allocations, after_first.system_allocations);
  EXPECT_EQ(step.trace_count(), 1) << step.explain();
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  const std::string traced = step.lower(Stage::Traced, kiln::zeros({2, 8, 8, 1}), one_hot_of(2, 1));
  EXPECT_NE(traced.find("call @kiln_conv2d_f32"), std::string::npos);
  EXPECT_NE(traced.find("call @kiln_conv2d_backprop_filter_f32"), std::string::npos);
  EXPECT_NE(traced.find("tensor<?x8x8x1xf32>"), std::string::npos);
}

// nn::Dense on a [batch, steps, features] input (Keras' Dense over the last axis) with a -1
// batch: one compile for batches 6, 3, 6, 1; the loss and every variable as eager's after each
// step, so the gradients through the folded rows are right at every size.
TEST(CompiledDynamic, DenseOverASequenceCompilesOnceForEveryBatch) {
  auto sequence_model = [](nn::Sequential& model) {
    namespace init = nn::initializers;
    model.add(nn::Dense(6, {.activation = nn::activations::relu, .kernel_initializer = init::glorot_uniform(5), .input_dim = 4}));
    model.add(nn::Flatten());
    model.add(nn::Dense(3, {.kernel_initializer = init::glorot_uniform(6), .input_dim = 30}));
  };
  Classifier eager(sequence_model), compiled(sequence_model);
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return compiled.step(x, y); },
                             {.name = "sequence_step", .input_signature = {TensorSpec{{-1, 5, 4}}, TensorSpec{{-1, 3}}}});
  uint32_t seed = 30;
  for (int64_t n : {6, 3, 6, 1}) {
    ++seed;
    Tensor x = random_values({n, 5, 4}, DType::Float32, -1, 1, seed), y = one_hot_of(n, seed);
    Tensor got = step(x, y), want = eager.step(x, y);
    EXPECT_TRUE(tensors_match(got, want)) << "n = " << n;
    std::vector<Variable> gv = compiled.model.trainable_variables(), wv = eager.model.trainable_variables();
    for (size_t i = 0; i < gv.size(); ++i) EXPECT_TRUE(tensors_match(gv[i], wv[i])) << "n = " << n << ", " << wv[i].name();
  }
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
  const std::string traced = step.lower(Stage::Traced, kiln::zeros({2, 5, 4}), one_hot_of(2, 1));
  EXPECT_NE(traced.find("tensor<?x5x4xf32>"), std::string::npos) << traced;
  EXPECT_NE(traced.find("tensor<?x5x6xf32>"), std::string::npos) << traced;
}

// A -1 dim elsewhere than a convolution's batch has no dynamic lowering: code per size, and
// Runs `f` on each of `inputs` against `body` (eager), then checks that each input's size got
// its own code and that explain() gives `reason` for it.
template <typename F, typename Body>
void expect_compiled_per_size(F& f, const Body& body, const std::vector<Tensor>& inputs, const std::string& reason) {
  for (const Tensor& x : inputs) EXPECT_TRUE(tensors_match(f(x), body(x))) << x.type_str();
  EXPECT_EQ(f.compile_count(), static_cast<int>(inputs.size())) << f.explain();
  EXPECT_NE(f.explain().find("compiled per size: " + reason), std::string::npos) << f.explain();
}

// explain() says which dim of which operand.
TEST(CompiledDynamic, ConvolutionOverAMinusOneImageDimCompilesPerSize) {
  Tensor filter = random_values({2, 2, 1, 3}, DType::Float32, -1, 1, 7);
  auto body = [&](const Tensor& x) { return kiln::reduce_sum(kiln::conv2d(x, filter, {1, 1}, "same")); };
  auto f = kiln::function(body, {.name = "tall", .input_signature = {TensorSpec{{2, -1, 4, 1}}}});
  expect_compiled_per_size(f, body,
                           {random_values({2, 5, 4, 1}, DType::Float32, -1, 1, 5), random_values({2, 3, 4, 1}, DType::Float32, -1, 1, 3)},
                           "the trace depends on the sizes: conv2d reads the size s0 as a number (s0 is argument 0 dim 1)");
}


// ---- Pooling over a -1 batch dim (Note [Pooling in compiled code]) ----

// max/avg pooling and the three gradient ops, "valid" and "same" with strides (padding: the
// insert_slice of a `?` batch), compiled once and run at several batch sizes against eager.
TEST(CompiledDynamic, PoolingAndItsGradientsOverAMinusOneBatch) {
  struct Case {
    std::array<int64_t, 2> ksize, strides;
    std::string padding;
    int64_t oh;
  };
  for (const Case& k : {Case{{2, 2}, {2, 2}, "valid", 3}, Case{{3, 3}, {2, 2}, "same", 4}}) {
    auto fn = [&](const std::vector<Tensor>& a) {
      const Tensor &x = a[0], &dy = a[1];
      Tensor y = kiln::max_pool2d(x, k.ksize, k.strides, k.padding);
      return std::vector<Tensor>{y, kiln::avg_pool2d(x, k.ksize, k.strides, k.padding),
                                 kiln::max_pool2d_grad(x, y, dy, k.ksize, k.strides, k.padding),
                                 kiln::max_pool2d_grad_grad(x, y, x * 0.5, k.ksize, k.strides, k.padding),
                                 kiln::avg_pool2d_grad(x.shape(), dy, k.ksize, k.strides, k.padding)};
    };
    ir::Graph g = trace_template("pool", fn, {Shape::of_dims({N, 7, 7, 3}), Shape::of_dims({N, k.oh, k.oh, 3})});
    ASSERT_EQ(compiler::dynamic_gap(g), "");
    auto cg = CompiledGraph::compile(g);
    const std::string traced = cg->stage_text(Stage::Traced);
    EXPECT_NE(traced.find("tensor<?x7x7x3xf32>"), std::string::npos) << traced;
    for (int64_t n : {4, 3, 1, 4}) {
      std::vector<Tensor> args = {random_values({n, 7, 7, 3}, DType::Float32, -1, 1, static_cast<uint32_t>(n)),
                                  random_values({n, k.oh, k.oh, 3}, DType::Float32, -1, 1, 9)};
      expect_outputs_match(*cg, fn, args, k.padding + ", n = " + std::to_string(n));
    }
  }
}

// A CNN step with both pooling layers and Adam under kiln::function: one compile for batches
// 6, 4, 6, equal to eager after each step.
TEST(CompiledDynamic, PooledCnnTrainStepCompilesOnce) {
  auto pooled_cnn = [](nn::Sequential& model) {
    namespace init = nn::initializers;
    model.add(nn::Conv2D(4, {3, 3}, {.padding = "same", .activation = nn::activations::relu,
                                     .kernel_initializer = init::glorot_uniform(1)}));
    model.add(nn::MaxPool2D({2, 2}));
    model.add(nn::Conv2D(3, {3, 3}, {.activation = nn::activations::relu, .kernel_initializer = init::glorot_uniform(2)}));
    model.add(nn::AveragePooling2D({2, 2}, {.strides = {1, 1}, .padding = "same"}));
    model.add(nn::Flatten());
    model.add(nn::Dense(3, {.kernel_initializer = init::glorot_uniform(3)}));
    model(kiln::zeros({1, 8, 8, 2}));
  };
  Classifier eager(pooled_cnn), compiled(pooled_cnn);
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return compiled.step(x, y); },
                             {.name = "pooled_step", .input_signature = {TensorSpec{{-1, 8, 8, 2}}, TensorSpec{{-1, 3}}}});
  uint32_t seed = 20;
  for (int64_t n : {6, 4, 6}) {
    Tensor x = random_values({n, 8, 8, 2}, DType::Float32, 0, 1, ++seed), y = one_hot_of(n, seed);
    EXPECT_TRUE(tensors_match(step(x, y), eager.step(x, y))) << "n = " << n;
    std::vector<Variable> gv = compiled.model.trainable_variables(), wv = eager.model.trainable_variables();
    for (size_t i = 0; i < gv.size(); ++i) EXPECT_TRUE(tensors_match(gv[i], wv[i])) << "n = " << n << ", " << wv[i].name();
  }
  EXPECT_EQ(step.compile_count(), 1) << step.explain();
}

// A -1 channel dim of a pool: code per size, with the reason.
TEST(CompiledDynamic, PoolingOverAMinusOneChannelDimCompilesPerSize) {
  auto body = [](const Tensor& x) { return kiln::reduce_sum(kiln::max_pool2d(x, {2, 2}, {2, 2})); };
  auto f = kiln::function(body, {.name = "wide", .input_signature = {TensorSpec{{2, 4, 4, -1}}}});
  expect_compiled_per_size(f, body,
                           {random_values({2, 4, 4, 3}, DType::Float32, -1, 1, 3), random_values({2, 4, 4, 2}, DType::Float32, -1, 1, 2)},
                           "the trace depends on the sizes: max_pool2d reads the size s0 as a number (s0 is argument 0 dim 3)");
}


// ---- Concat, slice, gather over a -1 dim they carry through ----

// concat along a static axis, slice keeping the -1 dim whole, gather and unsorted_segment_sum
// with a -1 batch of indices: one code for every size, as eager.
TEST(CompiledDynamic, ConcatSliceGatherCarryAMinusOneDim) {
  Tensor table = random_values({5, 3}, DType::Float32, -1, 1, 11);
  auto fn = [&](const std::vector<Tensor>& a) {
    const Tensor &x = a[0], &y = a[1];
    Tensor ids = kiln::cast(a[2], DType::Int64);
    return std::vector<Tensor>{kiln::concat({x, y, x}, 1), kiln::concat({x, x}, 0), kiln::slice(x, {0, 1}, {-1, 1}),
                               kiln::gather(table, ids), kiln::unsorted_segment_sum(y, ids, 5)};
  };
  // concat({x, x}, 0) joins along the -1 dim (the second x's offset is N): the trace depends
  // on the size.
  std::vector<std::string> guards;
  ir::Graph g = trace_template("carry", fn, {Shape::of_dims({N, 2}), Shape::of_dims({N, 3}), Shape::of_dims({N})}, &guards);
  EXPECT_EQ(guards, std::vector<std::string>{"concat reads the size s0 as a number (s0 is argument 0 dim 0)"});
  auto carried = [&](const std::vector<Tensor>& a) {  // fn without its concat along the -1 dim
    const Tensor &x = a[0], &y = a[1];
    Tensor ids = kiln::cast(a[2], DType::Int64);
    return std::vector<Tensor>{kiln::concat({x, y, x}, 1), kiln::slice(x, {0, 1}, {-1, 1}), kiln::gather(table, ids),
                               kiln::unsorted_segment_sum(y, ids, 5)};
  };
  g = trace_template("carry", carried, {Shape::of_dims({N, 2}), Shape::of_dims({N, 3}), Shape::of_dims({N})});
  ASSERT_EQ(compiler::dynamic_gap(g), "");
  auto cg = CompiledGraph::compile(g);
  for (int64_t n : {6, 2, 1, 6}) {
    std::vector<Tensor> args = {random_values({n, 2}, DType::Float32, -1, 1, 12), random_values({n, 3}, DType::Float32, -1, 1, 13),
                                random_values({n}, DType::Float32, 0, 5, static_cast<uint32_t>(n))};
    expect_outputs_match(*cg, carried, args, "n = " + std::to_string(n));
  }
  // The index range check over a `?` batch still reports the first bad index.
  std::string msg = error_of([&] {
    cg->run({random_values({3, 2}, DType::Float32, -1, 1, 1), random_values({3, 3}, DType::Float32, -1, 1, 2),
             Tensor::from_vector<float>({1, 7, 2})});
  });
  EXPECT_NE(msg.find("gather: index 7 at position 1 is outside [0, 5)"), std::string::npos) << msg;
}

// The gradients of slice (a concat of zeros along the sliced axis), concat (slices) and gather
// (unsorted_segment_sum) in one step under kiln::function: one compile for every batch.
TEST(CompiledDynamic, EmbeddingSliceConcatGradientsCompileOnce) {
  Variable emb(random_values({6, 3}, DType::Float32, -1, 1, 14), true, "emb");
  Variable w(random_values({5, 2}, DType::Float32, -1, 1, 15), true, "w");
  auto body = [&](const Tensor& x, const Tensor& ids) {
    GradientTape tape;
    Tensor features = kiln::concat({kiln::gather(emb, ids), kiln::slice(x, {0, 1}, {-1, 2})}, 1);  // [N,5]
    Tensor loss = kiln::reduce_mean(kiln::square(kiln::matmul(features, w)));
    std::vector<Tensor> g = tape.gradient(loss, {emb, w});
    return std::vector<Tensor>{loss, g[0], g[1]};
  };
  auto f = kiln::function(body, {.name = "embed", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1}, DType::Int64}}});
  for (int64_t n : {7, 3, 7}) {
    Tensor x = random_values({n, 4}, DType::Float32, -1, 1, static_cast<uint32_t>(n));
    Tensor ids = kiln::cast(random_values({n}, DType::Float32, 0, 6, static_cast<uint32_t>(n + 1)), DType::Int64);
    std::vector<Tensor> got = f(x, ids), want = body(x, ids);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(tensors_match(got[k], want[k])) << "n = " << n << ", output " << k;
  }
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
}

// Slicing into a -1 dim (the first N of 2N values) keeps its own code per size, and says why.
TEST(CompiledDynamic, SliceIntoTheMinusOneDimCompilesPerSize) {
  auto body = [](const Tensor& x) { return kiln::reduce_sum(kiln::slice(kiln::reshape(x, {-1}), {0}, {x.dim(0)})); };
  auto f = kiln::function(body, {.name = "head", .input_signature = {TensorSpec{{-1, 2}}}});
  expect_compiled_per_size(f, body, {random_values({5, 2}, DType::Float32, -1, 1, 5), random_values({3, 2}, DType::Float32, -1, 1, 3)},
                           "the trace depends on the sizes: the function's host code reads the size s0 as a number (s0 is "
                           "argument 0 dim 0)");
}


// ---- kiln::cond and kiln::while_loop over -1 dims ----

// A cond whose branches compute on a [N,4] batch (matmul, reduce_mean over N: its 1/N), with a
// tape gradient through it, and a while_loop whose loop var is [N,3]: one compile for every size.
TEST(CompiledDynamic, CondAndWhileLoopOverAMinusOneDimCompileOnce) {
  Variable w(random_values({4, 3}, DType::Float32, -1, 1, 16), true, "w");
  auto body = [&](const Tensor& x, const Tensor& flag) {
    GradientTape tape;
    Tensor h = kiln::cond(
        flag, [&] { return kiln::relu(kiln::matmul(x, w)) - kiln::reduce_mean(kiln::matmul(x, w), {0}); },
        [&] { return kiln::matmul(x, w) * 2.0; });
    Tensor loss = kiln::reduce_mean(kiln::square(h));
    Tensor g = tape.gradient(loss, {w})[0];
    std::vector<Tensor> loop = kiln::while_loop(
        [](const std::vector<Tensor>& v) { return kiln::less(v[1], Tensor::scalar(int32_t{3})); },
        [&](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[0] * 0.5 + h, v[1] + Tensor::scalar(int32_t{1})}; },
        {kiln::zeros_like(h), Tensor::scalar(int32_t{0})});
    return std::vector<Tensor>{loss, g, loop[0]};
  };
  auto f = kiln::function(body, {.name = "branchy", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{}, DType::Bool}}});
  for (auto [n, take] : std::vector<std::pair<int64_t, bool>>{{6, true}, {3, false}, {6, false}, {2, true}}) {
    Tensor x = random_values({n, 4}, DType::Float32, -1, 1, static_cast<uint32_t>(n));
    Tensor flag = Tensor::from_vector(std::vector<bool>{take}, Shape{});
    std::vector<Tensor> got = f(x, flag), want = body(x, flag);
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_TRUE(tensors_match(got[k], want[k])) << "n = " << n << (take ? ", then" : ", else") << ", output " << k;
  }
  EXPECT_EQ(f.trace_count(), 1) << f.explain();
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
  const std::string traced = f.lower(Stage::Traced, random_values({2, 4}, DType::Float32, -1, 1, 1),
                                     Tensor::from_vector(std::vector<bool>{true}, Shape{}));
  EXPECT_NE(traced.find("scf.if"), std::string::npos);
  EXPECT_NE(traced.find("scf.while"), std::string::npos);
}

// An op inside a region that cannot follow its -1 dim: the reason names the region.
TEST(CompiledDynamic, RegionOpWithoutADynamicLoweringSaysWhere) {
  auto body = [](const Tensor& x, const Tensor& flag) {
    return kiln::cond(flag, [&] { return kiln::reduce_sum(kiln::concat({x, x}, 0)); }, [&] { return kiln::reduce_sum(x); });
  };
  auto f = kiln::function(body, {.name = "cut", .input_signature = {TensorSpec{{-1, 2}}, TensorSpec{{}, DType::Bool}}});
  for (int64_t n : {3, 4}) {
    Tensor x = random_values({n, 2}, DType::Float32, -1, 1, static_cast<uint32_t>(n));
    Tensor flag = Tensor::from_vector(std::vector<bool>{true}, Shape{});
    EXPECT_TRUE(tensors_match(f(x, flag), body(x, flag))) << "n = " << n;
  }
  EXPECT_EQ(f.compile_count(), 2) << f.explain();
  EXPECT_NE(f.explain().find("compiled per size: the trace depends on the sizes: concat reads the size s0 as a number (s0 is "
                             "argument 0 dim 0)"),
            std::string::npos)
      << f.explain();
}

}  // namespace
}  // namespace kiln::test
