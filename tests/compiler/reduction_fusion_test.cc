// Fusion keeps a reduction's meaning (Note [Fusion keeps a reduction's meaning] in passes/FuseElementwise.cc):
// reductions of rank-0 tensors consumed by larger elementwise ops, forward and in gradients,
// compiled against eager, and the fused IR that keeps them apart; a reduction joined with its
// epilogue when it reads one value twice.
#include "tests/compiler/compiler_test_util.h"

namespace kiln::test {
namespace {

using compiler::CompiledGraph;

Tensor matrix_2x3() { return Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}); }

TEST(ReductionFusion, RankZeroSumBroadcastIntoAMatrix) {
  // Compiled gave [[1.5 3 4.5] [6 7.5 9]]: the sum's accumulator was carried across elements.
  auto fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{add(a[0], reduce_sum(a[1]))}; };
  const std::vector<Tensor> args = {matrix_2x3(), Tensor::scalar(0.5f)};
  compiled_vs_eager("add(x, reduce_sum(y))", fn, args);
  std::vector<Tensor> got = CompiledGraph::compile(trace_graph("sum_bcast", fn, args))->run(args);
  EXPECT_EQ(got[0].to_vector<float>(), (std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f}));
}

TEST(ReductionFusion, EveryRankZeroReductionBroadcastIntoEachConsumer) {
  using Reduce = Tensor (*)(const Tensor&, const Axes&, bool);
  const std::vector<std::pair<const char*, Reduce>> reductions = {
      {"reduce_sum", [](const Tensor& t, const Axes& ax, bool k) { return reduce_sum(t, ax, k); }},
      {"reduce_mean", [](const Tensor& t, const Axes& ax, bool k) { return reduce_mean(t, ax, k); }},
      {"reduce_max", [](const Tensor& t, const Axes& ax, bool k) { return reduce_max(t, ax, k); }}};
  for (const auto& [name, reduce] : reductions)
    for (DType dtype : {DType::Float32, DType::Float64}) {
      auto fn = [reduce](const std::vector<Tensor>& a) {
        Tensor r = reduce(a[1], {}, false);
        return std::vector<Tensor>{mul(a[0], r), sub(exp(r), a[0]), add(reduce(a[1], {}, true), a[0])};
      };
      compiled_vs_eager(std::string(name) + " " + dtype_name(dtype), fn,
                        {random_values({3, 5}, dtype, -2, 2, 1), random_values({}, dtype, 0.5, 1.5, 2)});
    }
}

TEST(ReductionFusion, GradientOfAMeanTimesAMeanOfAScalar) {
  // d mean(x * reduce_mean(s)) / dx for x [1,4]: compiled gave [0.125 0.25 0.375 0.5].
  auto fn = [](const std::vector<Tensor>& a) {
    GradientTape tape;
    tape.watch({a[0], a[1]});
    Tensor loss = reduce_mean(mul(a[0], reduce_mean(a[1])));
    return tape.gradient(loss, {a[0], a[1]});
  };
  const std::vector<Tensor> args = {Tensor::from_vector<float>({1, 2, 3, 4}, {1, 4}), Tensor::scalar(0.5f)};
  compiled_vs_eager("grad mean(x * mean(s))", fn, args);
  std::vector<Tensor> got = CompiledGraph::compile(trace_graph("grad_mean_scalar", fn, args))->run(args);
  EXPECT_EQ(got[0].to_vector<float>(), (std::vector<float>{0.125f, 0.125f, 0.125f, 0.125f}));
}

// Fuzz seed 11: cse merges two equal softmaxes, so the cross-entropy reduction reads one value
// twice (labels and logits); joined with its epilogue, its body read the running max where it
// read the labels (compiled -inf, eager 0.568): a joined op maps each of its ops' inputs to the
// position add_input gave it.
TEST(ReductionFusion, EpilogueOfAReductionThatReadsOneValueTwice) {
  auto fn = [](const std::vector<Tensor>& a) {
    Tensor s = softmax(a[0]), t = softmax(a[0]);
    return std::vector<Tensor>{t, softmax_cross_entropy_with_logits(t, s), s};
  };
  compiled_vs_eager("softmax_cross_entropy_with_logits(t, s), t and s equal",
                    fn, {Tensor::from_vector<float>({0.375f, -0.9375f, 0.5625f, -0.5625f, 0.25f, 0.6875f, 0.1875f, -0.6875f,
                                                     0.1875f, -0.125f}, {5, 2})});
}

TEST(CompilerGolden, RankZeroReductionStaysApartFromItsBroadcastConsumer) {
  auto fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{add(a[0], reduce_sum(a[1]))}; };
  ir::Graph g = trace_graph("sum_bcast", fn, {matrix_2x3(), Tensor::scalar(0.5f)});
  EXPECT_TRUE(file_check("rank0_reduction_broadcast.fused.mlir", CompiledGraph::compile(g)->stage_text(Stage::Fused)));
}

}  // namespace
}  // namespace kiln::test
