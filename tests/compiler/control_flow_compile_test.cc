// Compiling kiln::cond and kiln::while_loop: the traced stage (golden FileCheck: scf.if and
// scf.while), compiled vs interpreter vs eager on both branch outcomes and several trip counts,
// and lowering_gap naming what a region cannot compile.
#include <gtest/gtest.h>

#include "kiln/ir/interpreter.h"
#include "tests/compiler/compiler_test_util.h"
#include "tests/error_of.h"

namespace kiln::test {
namespace {

using compiler::CompiledGraph;

// x [4,3], w variable [3,3]: h = cond(sum(x) > 0, relu(x @ w), x * 2); then h is halved while its
// sum exceeds 1 (a loop reading the captured w through its shape-preserving body).
struct CondStep {
  Variable w{random_values({3, 3}, DType::Float32, -1, 1, 5), true, "w"};
  std::vector<Tensor> operator()(const std::vector<Tensor>& a) const {
    const Tensor& x = a[0];
    Tensor pred = kiln::greater(kiln::reduce_sum(x), Tensor::scalar(0.0f));
    Tensor h = kiln::cond(pred, [&] { return kiln::relu(kiln::matmul(x, w)); }, [&] { return x * 2.0; });
    std::vector<Tensor> loop = kiln::while_loop(
        [](const std::vector<Tensor>& v) { return kiln::greater(kiln::reduce_sum(kiln::abs(v[0])), Tensor::scalar(1.0f)); },
        [](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[0] * 0.5, v[1] + Tensor::scalar(int32_t{1})}; },
        {h, Tensor::scalar(int32_t{0})});
    return {h, loop[0], loop[1]};
  }
};

TEST(CompiledControlFlow, CondAndWhileLoopTraceToScfIfAndScfWhile) {
  CondStep step;
  ir::Graph g = trace_graph("cond_step", step, {random_values({4, 3}, DType::Float32, -1, 1, 1)});
  EXPECT_EQ(compiler::lowering_gap(g), "");
  EXPECT_TRUE(file_check("cond_step.traced.mlir", compiler::graph_to_linalg(g)));
}

TEST(CompiledControlFlow, CompiledMatchesTheInterpreterAndEager) {
  CondStep step;
  ir::Graph g = trace_graph("cond_step", step, {random_values({4, 3}, DType::Float32, -1, 1, 1)});
  std::unique_ptr<CompiledGraph> cg;
  try {
    cg = CompiledGraph::compile(g);
  } catch (const Error& e) {
    FAIL() << e.what();
  }
  ir::GraphRunner runner(g);
  for (uint32_t s = 0; s < 6; ++s) {
    SCOPED_TRACE("input " + std::to_string(s));
    // Both signs of sum(x) and a range of magnitudes (trip counts).
    const double scale = (s % 2 ? -1.0 : 1.0) * (1 + 10 * s);
    std::vector<Tensor> in = {random_values({4, 3}, DType::Float32, 0.1, 1, 10 + s) * scale};
    std::vector<Tensor> got = cg->run(in), interpreted = runner.run(in), eager = step(in);
    ASSERT_EQ(got.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_TRUE(tensors_match(got[k], eager[k])) << "output " << k;
      EXPECT_TRUE(tensors_match(interpreted[k], eager[k])) << "output " << k;
    }
  }
  EXPECT_TRUE(has(cg->stage_text(Stage::Bufferized), "scf.while"));
  EXPECT_TRUE(has(cg->stage_text(Stage::Bufferized), "scf.if"));
}

TEST(CompiledControlFlow, OnlyTheReadResultsOfACondSurvivePruning) {
  auto fn = [](const std::vector<Tensor>& a) {
    std::vector<Tensor> r = kiln::cond(kiln::greater(kiln::reduce_sum(a[0]), Tensor::scalar(0.0f)),
                                       [&] { return std::vector<Tensor>{kiln::exp(a[0]), kiln::tanh(a[0])}; },
                                       [&] { return std::vector<Tensor>{a[0], kiln::sigmoid(a[0])}; });
    return std::vector<Tensor>{r[1]};
  };
  ir::Graph g = trace_graph("pruned_cond", fn, {random_values({3}, DType::Float32, -1, 1, 2)}).pruned();
  ASSERT_EQ(g.nodes.back().kind, ir::NodeKind::Cond);
  EXPECT_EQ(g.nodes.back().results.size(), 1u);
  const std::string text = g.str();
  EXPECT_FALSE(has(text, "exp(")) << text;
  EXPECT_TRUE(has(text, "tanh(")) << text;
  auto cg = CompiledGraph::compile(g);
  for (double sign : {1.0, -1.0}) {
    Tensor x = random_values({3}, DType::Float32, 0.1, 1, 3) * sign;
    EXPECT_TRUE(tensors_match(cg->run({x})[0], fn({x})[0]));
  }
}

}  // namespace
}  // namespace kiln::test
