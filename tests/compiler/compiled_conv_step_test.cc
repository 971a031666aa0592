// A small conv net's training step (conv2d -> bias -> relu -> flatten -> dense -> sparse softmax
// cross-entropy -> Adam) under kiln::function: compiled losses and variables match eager over
// three steps, and the compiled step allocates nothing per call (Note [Workspace]).
#include <gtest/gtest.h>

#include "kiln/function.h"
#include "tests/compiler/compiler_test_util.h"

namespace kiln::test {
namespace {

struct ConvNet {
  Variable filter, conv_bias, kernel, bias;
  explicit ConvNet(DType t)
      : filter(random_values({3, 3, 2, 4}, t, -0.5, 0.5, 1), true, "filter"),
        conv_bias(random_values({4}, t, -0.1, 0.1, 2), true, "conv_bias"),
        kernel(random_values({7 * 7 * 4, 5}, t, -0.2, 0.2, 3), true, "kernel"),
        bias(random_values({5}, t, -0.1, 0.1, 4), true, "bias") {}
  std::vector<Variable> vars() const { return {filter, conv_bias, kernel, bias}; }
};

Tensor conv_net_step(ConvNet& net, optim::Adam& opt, const Tensor& x, const Tensor& labels) {
  GradientTape tape;
  Tensor h = relu(conv2d(x, net.filter) + net.conv_bias);
  Tensor logits = matmul(reshape(h, {x.dim(0), -1}), net.kernel) + net.bias;
  Tensor loss = reduce_mean(sparse_softmax_cross_entropy_with_logits(labels, logits));
  std::vector<Variable> vars = net.vars();
  opt.apply_gradients(tape.gradient(loss, vars), vars);
  return loss;
}

::testing::AssertionResult close(const Tensor& got, const Tensor& want, double rtol) {
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  if (got.shape() != want.shape()) return ::testing::AssertionFailure() << got.shape().str() << " vs " << want.shape().str();
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::fabs(g[i] - w[i]) <= rtol * std::max(1.0, std::fabs(w[i]))))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g[i] << ", want " << w[i];
  return ::testing::AssertionSuccess();
}

TEST(CompiledConvStep, ThreeAdamStepsMatchEager) {
  for (DType t : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(t));
    ConvNet eager_net(t), compiled_net(t);
    optim::Adam eager_opt({.learning_rate = 0.01}), compiled_opt({.learning_rate = 0.01});
    compiled_opt.build(compiled_net.vars());
    auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return conv_net_step(compiled_net, compiled_opt, x, y); },
                               {.name = "conv_step"});
    for (uint32_t s = 0; s < 3; ++s) {
      Tensor x = random_values({6, 9, 9, 2}, t, -1, 1, 10 + s), y = random_values({6}, DType::Int32, 0, 5, 20 + s);
      Tensor want = conv_net_step(eager_net, eager_opt, x, y);
      Tensor got = step(x, y);
      EXPECT_TRUE(close(got, want, 1e-5)) << "loss of step " << s;
    }
    EXPECT_EQ(step.compile_count(), 1) << step.explain();
    std::vector<Variable> a = eager_net.vars(), b = compiled_net.vars();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(close(b[i], a[i], 1e-5)) << a[i].name();
  }
}

// The conv's result and scratch buffers, like every temporary, are views of the static
// workspace: nothing is allocated per call.
TEST(CompiledConvStep, AllocatesNothingPerCall) {
  ConvNet net(DType::Float32);
  optim::Adam opt;
  opt.build(net.vars());
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return conv_net_step(net, opt, x, y); },
                             {.name = "conv_step"});
  Tensor x = random_values({6, 9, 9, 2}, DType::Float32, -1, 1, 1), y = random_values({6}, DType::Int32, 0, 5, 2);
  const std::string bufferized = step.lower(Stage::Bufferized, x, y);
  EXPECT_NE(bufferized.find("call @kiln_conv2d_bias_f32"), std::string::npos) << bufferized;  // Note [Contraction epilogues]
  EXPECT_NE(bufferized.find("call @kiln_conv2d_backprop_filter_f32"), std::string::npos) << bufferized;
  EXPECT_EQ(bufferized.find("memref.alloc"), std::string::npos) << bufferized;
  EXPECT_EQ(step.lower(Stage::LlvmDialect, x, y).find("@malloc"), std::string::npos);
}

// The convolution kernels are resolved by name when an object is linked, so an object from the
// disk cache (this test binary sets KILN_CACHE_DIR to its own directory) runs as well.
TEST(CompiledConvStep, DiskCacheEntryLinksTheKernels) {
  if (const char* dir = std::getenv("KILN_CACHE_DIR"); dir != nullptr && std::string(dir) == "off")
    GTEST_SKIP() << "KILN_CACHE_DIR=off";
  GraphFn f = [](const std::vector<Tensor>& in) {
    Tensor y = conv2d(in[0], in[1], {2, 2}, "same");
    return std::vector<Tensor>{y, conv2d_backprop_input(in[0].shape(), in[1], y, {2, 2}, "same"),
                               conv2d_backprop_filter(in[0], in[1].shape(), y, {2, 2}, "same")};
  };
  std::vector<Tensor> in = {random_values({2, 7, 5, 3}, DType::Float32, -1, 1, 5),
                            random_values({3, 3, 3, 2}, DType::Float32, -1, 1, 6)};
  ir::Graph g = trace_graph("conv_cache", f, in);
  auto cold = compiler::CompiledGraph::compile(g);
  auto warm = compiler::CompiledGraph::compile(g);
  EXPECT_TRUE(warm->from_disk_cache()) << warm->compile_breakdown();
  std::vector<Tensor> got = warm->run(in), want = f(in);
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(tensors_match(got[k], want[k])) << "output " << k;
}

}  // namespace
}  // namespace kiln::test
