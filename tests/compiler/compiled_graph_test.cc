// CompiledGraph's contract and IR stages: GraphRunner's calling contract (argument positions,
// outputs that are arguments, constants, variables or undefined, in-place variable writes), a
// small MLP training step against the interpreter, the golden IR files (FileCheck), KILN_DUMP_IR
// and stage names.
#include <gtest/gtest.h>

#include <regex>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "kernels/cpu/jit/temporary_buffers.h"
#include "kiln/ir/interpreter.h"
#include "tests/compiler/compiler_test_util.h"
#include "tests/error_of.h"

namespace kiln::test {
namespace {

using compiler::CompiledGraph;

// ---- A small MLP training step (4 -> 10 -> 3, softmax cross-entropy, Adam) ----

struct Mlp {
  std::vector<Variable> params, m, v;
  Tensor lr = Tensor::scalar(0.01f);
  explicit Mlp(uint32_t seed) {
    const Shape shapes[] = {{4, 10}, {10}, {10, 3}, {3}};
    const char* names[] = {"w1", "b1", "w2", "b2"};
    for (int k = 0; k < 4; ++k) {
      params.emplace_back(random_values(shapes[k], DType::Float32, -0.5, 0.5, seed + k), true, names[k]);
      m.emplace_back(kiln::zeros(shapes[k]), false, std::string("m_") + names[k]);
      v.emplace_back(kiln::zeros(shapes[k]), false, std::string("v_") + names[k]);
    }
  }
  Tensor logits(const Tensor& x) {
    Tensor h = kiln::relu(kiln::matmul(x, params[0]) + params[1]);
    return kiln::matmul(h, params[2]) + params[3];
  }
  // x [N,4] float32, y [N] int32 class ids.
  Tensor step(const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(y, 3), logits(x)));
    std::vector<Tensor> grads = tape.gradient(loss, params);
    for (size_t k = 0; k < params.size(); ++k) kiln::apply_adam(params[k], m[k], v[k], grads[k], lr, 0.9, 0.999, 1e-7);
    return loss;
  }
  std::vector<Variable> all() const {
    std::vector<Variable> a = params;
    a.insert(a.end(), m.begin(), m.end());
    a.insert(a.end(), v.begin(), v.end());
    return a;
  }
};

ir::Graph mlp_graph(Mlp& mlp, int64_t batch) {
  return trace_graph("mlp_step", [&](const std::vector<Tensor>& a) { return std::vector<Tensor>{mlp.step(a[0], a[1])}; },
                     {random_values({batch, 4}, DType::Float32, -1, 1, 1), random_values({batch}, DType::Int32, 0, 3, 2)});
}

TEST(CompiledGraph, MlpTrainingStepMatchesTheInterpreter) {
  Mlp mlp(7);
  const std::vector<Variable> vars = mlp.all();
  std::vector<Tensor> initial;
  for (const Variable& v : vars) initial.push_back(v.clone());
  ir::Graph g = mlp_graph(mlp, 32);
  auto cg = CompiledGraph::compile(g);
  std::vector<std::vector<Tensor>> batches;
  for (uint32_t s = 0; s < 5; ++s)
    batches.push_back({random_values({32, 4}, DType::Float32, -1, 1, 10 + s), random_values({32}, DType::Int32, 0, 3, 20 + s)});

  ir::GraphRunner runner(g);
  std::vector<Tensor> want_loss;
  for (const auto& b : batches) want_loss.push_back(runner.run(b)[0]);
  std::vector<Tensor> want_vars;
  for (size_t k = 0; k < vars.size(); ++k) {
    want_vars.push_back(vars[k].clone());
    vars[k].assign(initial[k]);
  }
  std::vector<const void*> storage;
  for (const Variable& v : vars) storage.push_back(v.raw_data());
  for (size_t s = 0; s < batches.size(); ++s) EXPECT_TRUE(tensors_match(cg->run(batches[s])[0], want_loss[s])) << "step " << s;
  for (size_t k = 0; k < vars.size(); ++k) {
    EXPECT_TRUE(tensors_match(vars[k], want_vars[k])) << vars[k].name();
    EXPECT_EQ(vars[k].raw_data(), storage[k]) << vars[k].name() << " was not updated in place";
  }
}

// The bytes of every memref.view in `ir` (`to memref<32x10xf32>`), each rounded up to the
// workspace's 64-byte alignment, and how many views there are.
std::pair<int64_t, int> view_bytes(const std::string& ir) {
  int64_t bytes = 0;
  int count = 0;
  const std::regex view(R"(memref.view [^\n]* to memref<([0-9x]*)(f32|f64|i32|i64|i1|i8)>)");
  for (auto it = std::sregex_iterator(ir.begin(), ir.end(), view); it != std::sregex_iterator(); ++it) {
    int64_t n = 1;
    std::string dims = (*it)[1];
    for (size_t at = 0, x; at < dims.size(); at = x + 1) {
      x = dims.find('x', at);
      if (x == std::string::npos) x = dims.size();
      n *= std::stoll(dims.substr(at, x - at));
    }
    const std::string t = (*it)[2];
    n *= t == "f64" || t == "i64" ? 8 : t == "i1" || t == "i8" ? 1 : 4;
    bytes += (n + 63) / 64 * 64;
    ++count;
  }
  return {bytes, count};
}

int64_t workspace_bytes(const std::string& ir) {
  std::smatch global;
  if (!std::regex_search(ir, global, std::regex(R"(memref.global "private" @kiln_workspace_0 : memref<(\d+)xi8>)"))) return -1;
  return std::stoll(global[1]);
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Note [Workspace]: the step's temporaries are views of one static buffer, so a call allocates
// nothing; above Note [Disjoint temporaries]' size, buffers whose lifetimes do not overlap share
// bytes.
TEST(CompiledGraph, TemporariesLiveInOneWorkspaceNotTheHeap) {
  Mlp mlp(3);
  auto cg = CompiledGraph::compile(mlp_graph(mlp, 4096));
  const std::string& buffers = cg->stage_text(Stage::Bufferized);
  EXPECT_EQ(buffers.find("memref.alloc"), std::string::npos) << buffers;
  EXPECT_EQ(cg->stage_text(Stage::LlvmDialect).find("@malloc"), std::string::npos);
  const int64_t workspace = workspace_bytes(buffers);
  const auto [views, count] = view_bytes(buffers);
  EXPECT_GT(count, 10);
  EXPECT_GT(workspace, 0) << buffers;
  EXPECT_LT(workspace, views) << "no two temporaries share bytes";
  EXPECT_EQ(buffers.find("kiln.disjoint_view"), std::string::npos);
  EXPECT_EQ(cg->stage_text(Stage::LlvmDialect).find("llvm.noalias"), std::string::npos);
}

// Note [Disjoint temporaries]: small temporaries get bytes of their own and reach the body as
// noalias arguments, which LLVM inlines into alias scopes.
TEST(CompiledGraph, SmallTemporariesAreDisjointNoaliasArguments) {
  Mlp mlp(3);
  auto cg = CompiledGraph::compile(mlp_graph(mlp, 32));
  const std::string& buffers = cg->stage_text(Stage::Bufferized);
  const auto [views, count] = view_bytes(buffers);
  EXPECT_GT(count, 10);
  EXPECT_EQ(workspace_bytes(buffers), views) << "every temporary has bytes of its own";
  EXPECT_EQ(count_of(buffers, "kiln.disjoint_view"), static_cast<size_t>(count));
  const std::string& llvm_dialect = cg->stage_text(Stage::LlvmDialect);
  EXPECT_NE(llvm_dialect.find("llvm.func internal @kiln_mlp_step_body("), std::string::npos) << llvm_dialect;
  EXPECT_EQ(count_of(llvm_dialect, "llvm.noalias"), static_cast<size_t>(count));
  const std::string& llvm_ir = cg->stage_text(Stage::LlvmIr);
  EXPECT_EQ(llvm_ir.find("@kiln_mlp_step_body("), std::string::npos) << "the body is inlined";
  EXPECT_NE(llvm_ir.find("!alias.scope"), std::string::npos);
}

// Note [Workspace per thread]: the workspace global is the layout only; the code asks for the
// calling thread's bytes, and the object keeps no global of them.
TEST(CompiledGraph, TheWorkspaceIsTheCallingThreads) {
  Mlp mlp(3);
  auto cg = CompiledGraph::compile(mlp_graph(mlp, 4096));
  EXPECT_NE(cg->stage_text(Stage::Bufferized).find("@kiln_workspace_0"), std::string::npos);
  const std::string& llvm_dialect = cg->stage_text(Stage::LlvmDialect);
  EXPECT_NE(llvm_dialect.find("llvm.call @kiln_thread_workspace("), std::string::npos) << llvm_dialect;
  EXPECT_EQ(llvm_dialect.find("@kiln_workspace_0"), std::string::npos) << llvm_dialect;
}

// kiln_thread_workspace's buffers: one per thread, kept and grown on demand, set aside for a call
// made from inside another (SetAsideWorkspaces).
TEST(CompiledGraph, ThreadWorkspacesAreTheThreadsOwn) {
  using Workspace = void* (*)(int64_t slot, int64_t bytes);
  Workspace workspace = nullptr;
  for (const auto& [name, address] : kiln::kernels::jit::temporary_buffer_symbols())
    if (name == kiln::kernels::jit::kThreadWorkspaceFunction) workspace = reinterpret_cast<Workspace>(address);
  ASSERT_NE(workspace, nullptr);
  void* mine = workspace(0, 1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mine) % 64, 0u);
  EXPECT_EQ(workspace(0, 500), mine) << "a smaller request takes the same buffer";
  void* other = nullptr;
  std::thread([&] { other = workspace(0, 1000); }).join();
  EXPECT_NE(other, mine) << "another thread has a buffer of its own";
  {
    kiln::kernels::jit::SetAsideWorkspaces aside;
    EXPECT_NE(workspace(0, 1000), mine) << "a nested call does not share the running call's buffer";
  }
  EXPECT_EQ(workspace(0, 1000), mine) << "the running call's buffer is back";
}

// The same with a -1 batch dim: the views of the per-call workspace (Note [Dynamic workspace]).
TEST(CompiledGraph, DynamicTemporariesAreDisjointNoaliasArguments) {
  Mlp mlp(4);
  auto step = kiln::function([&](const Tensor& x, const Tensor& y) { return mlp.step(x, y); },
                             {.name = "mlp_dynamic", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1}, DType::Int32}}});
  const Tensor x = random_values({16, 4}, DType::Float32, -1, 1, 1), y = random_values({16}, DType::Int32, 0, 3, 2);
  const std::string buffers = step.lower(Stage::Bufferized, x, y);
  const size_t views = count_of(buffers, "memref.view");
  EXPECT_GT(views, 10u) << buffers;
  EXPECT_EQ(count_of(buffers, "kiln.disjoint_view"), views);
  const std::string llvm_dialect = step.lower(Stage::LlvmDialect, x, y);
  EXPECT_EQ(count_of(llvm_dialect, "llvm.noalias"), views);
  EXPECT_NE(step.lower(Stage::LlvmIr, x, y).find("!alias.scope"), std::string::npos);
  // And the code is right: against the eager step from the same start, at two batch sizes.
  Mlp eager(4);
  for (int64_t n : {16, 7}) {
    const Tensor bx = random_values({n, 4}, DType::Float32, -1, 1, 10 + n), by = random_values({n}, DType::Int32, 0, 3, 20 + n);
    EXPECT_TRUE(tensors_match(step(bx, by), eager.step(bx, by))) << "batch " << n;
  }
  for (size_t k = 0; k < mlp.params.size(); ++k) EXPECT_TRUE(tensors_match(mlp.params[k], eager.params[k])) << k;
}

// Note [Contractions stay named]: a reshape of a matmul's result (a Flatten's gradient) must not
// turn the matmul into loops; it stays a library call, and the result is right.
TEST(CompiledGraph, ReshapedMatmulStaysALibraryCall) {
  Tensor a = random_values({6, 40}, DType::Float32, -1, 1, 1), b = random_values({24, 40}, DType::Float32, -1, 1, 2);
  GraphFn fn = [](const std::vector<Tensor>& x) {
    return std::vector<Tensor>{kiln::relu(kiln::reshape(kiln::matmul(x[0], x[1], false, true), {6, 2, 3, 4}))};
  };
  auto cg = CompiledGraph::compile(trace_graph("reshaped_matmul", fn, {a, b}));
  const std::string& buffers = cg->stage_text(Stage::Bufferized);
  EXPECT_NE(buffers.find("call @kiln_gemm_f32"), std::string::npos) << buffers;
  EXPECT_EQ(buffers.find("\"reduction\""), std::string::npos) << buffers;
  EXPECT_TRUE(tensors_match(cg->run({a, b})[0], fn({a, b})[0]));
}

// The loops (conditional branches in the LLVM dialect) of `reduce` compiled over a 9 x cols
// input, which also matches eager.
size_t loops_of(const std::string& name, const std::function<Tensor(const Tensor&)>& reduce, int64_t cols) {
  Tensor x = random_values({9, cols}, DType::Float32, -1, 1, 3);
  GraphFn fn = [&](const std::vector<Tensor>& a) { return std::vector<Tensor>{reduce(a[0])}; };
  auto cg = CompiledGraph::compile(trace_graph(name + "_" + std::to_string(cols), fn, {x}));
  EXPECT_TRUE(tensors_match(cg->run({x})[0], fn({x})[0])) << name << " over " << cols << " columns";
  return count_of(cg->stage_text(Stage::LlvmDialect), "llvm.cond_br");
}

// Note [Tiny inner loops]: a row reduction over 3 columns loses its inner loop (one loop fewer
// than over 5 columns, where the loop stays); so does a sum over the rows of 3 columns (a bias
// gradient over 3 classes), whose 3 sums then stay in registers through the rows' loop.
TEST(CompiledGraph, ReductionsOverTwoToFourColumnsLoseTheirInnerLoop) {
  auto row_max = [](const Tensor& x) { return kiln::reduce_max(x, {1}); };
  EXPECT_EQ(loops_of("row_max", row_max, 3) + 1, loops_of("row_max", row_max, 5));
  auto column_sum = [](const Tensor& x) { return kiln::reduce_sum(x, {0}); };
  EXPECT_EQ(loops_of("column_sum", column_sum, 3) + 1, loops_of("column_sum", column_sum, 5));
}

// Note [Contractions in compiled code]: batched float matmuls (any rank) and a^T b^T are GEMM
// calls too, not loops (a reduction iterator is what a loop lowering would leave).
TEST(CompiledGraph, BatchedAndDoublyTransposedMatmulsAreLibraryCalls) {
  struct Case {
    Shape a, b;
    bool ta, tb;
    const char* call;
  };
  const Case cases[] = {{{3, 5, 4}, {3, 4, 6}, false, false, "call @kiln_batch_gemm_f32"},
                        {{3, 4, 5}, {3, 4, 6}, true, false, "call @kiln_batch_gemm_f32"},
                        {{2, 3, 5, 4}, {2, 3, 6, 4}, false, true, "call @kiln_batch_gemm_f32"},
                        {{2, 3, 4, 5}, {2, 3, 6, 4}, true, true, "call @kiln_batch_gemm_f32"},
                        {{4, 5}, {6, 4}, true, true, "call @kiln_gemm_f32"}};
  for (const Case& c : cases) {
    Tensor a = random_values(c.a, DType::Float32, -1, 1, 1), b = random_values(c.b, DType::Float32, -1, 1, 2);
    GraphFn fn = [&c](const std::vector<Tensor>& x) {
      return std::vector<Tensor>{kiln::matmul(x[0], x[1], c.ta, c.tb)};
    };
    auto cg = CompiledGraph::compile(trace_graph("batched_matmul", fn, {a, b}));
    const std::string& buffers = cg->stage_text(Stage::Bufferized);
    EXPECT_NE(buffers.find(c.call), std::string::npos) << c.a.str() << c.b.str() << buffers;
    EXPECT_EQ(buffers.find("\"reduction\""), std::string::npos) << c.a.str() << c.b.str() << buffers;
    EXPECT_TRUE(tensors_match(cg->run({a, b})[0], fn({a, b})[0])) << c.a.str() << c.b.str();
  }
}

// ---- GraphRunner's contract ----

TEST(CompiledGraph, OutputsThatAreArgumentsConstantsVariablesOrUndefined) {
  Variable w(random_values({2, 2}, DType::Float32, -1, 1, 1), true, "w");
  Variable r(random_values({2, 2}, DType::Float32, -1, 1, 2), true, "read_only");
  Tensor c = random_values({3}, DType::Float64, -1, 1, 3);
  auto fn = [&](const std::vector<Tensor>& a) {
    kiln::assign_add(w, a[2]);
    return std::vector<Tensor>{a[0], c, w, Tensor(), w, r, a[2] * r};
  };
  // Argument 1 is not a tensor (a C++ scalar of the kiln::function).
  std::vector<Tensor> args = {random_values({4}, DType::Int32, 0, 9, 4), Tensor(), random_values({2, 2}, DType::Float32, -1, 1, 5)};
  ir::Graph g = trace_graph("contract", fn, args);
  // Output 4 becomes w's value at call start (a graph value no eager expression names while w
  // is written): the compiled code must copy it out before the write.
  ASSERT_EQ(g.variables[0].var.name(), "w");
  g.outputs[4] = g.variables[0].initial;
  auto cg = CompiledGraph::compile(g);
  const Tensor w0 = w.clone();
  const void* w_storage = w.raw_data();
  std::vector<Tensor> got = cg->run(args);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_TRUE(got[0].is_same(args[0]));     // as GraphRunner: the argument itself
  EXPECT_TRUE(got[1].is_same(c));           // the captured constant itself
  EXPECT_EQ(got[2].raw_data(), w_storage);  // the variable's (updated) storage
  EXPECT_EQ(w.raw_data(), w_storage);
  EXPECT_TRUE(tensors_match(got[2], w0 + args[2]));
  EXPECT_FALSE(got[3].defined());
  EXPECT_TRUE(tensors_match(got[4], w0));   // the value before the write, copied
  EXPECT_TRUE(tensors_match(got[5], r));
  EXPECT_TRUE(tensors_match(got[6], args[2] * r));
  EXPECT_FALSE(got[2].is_variable());

  // The output aliasing w keeps its value when the next call writes w (copy on write).
  const Tensor kept = got[2].clone();
  std::vector<Tensor> again = cg->run(args);
  EXPECT_TRUE(tensors_match(got[2], kept));
  EXPECT_TRUE(tensors_match(w, kept + args[2]));
}

TEST(CompiledGraph, GraphsWithoutLoops) {
  Tensor x = random_values({3}, DType::Float32, 0, 1, 1);
  // Returns its argument and an undefined tensor: no node, no loop, one function argument.
  auto same = CompiledGraph::compile(trace_graph("identity", [](const std::vector<Tensor>& a) { return std::vector<Tensor>{a[0], Tensor()}; }, {x}));
  std::vector<Tensor> got = same->run({x});
  EXPECT_TRUE(got[0].is_same(x));
  EXPECT_FALSE(got[1].defined());
  // Nothing at all: a function without arguments.
  auto nothing = CompiledGraph::compile(trace_graph("nothing", [](const std::vector<Tensor>&) { return std::vector<Tensor>{}; }, {}));
  EXPECT_TRUE(nothing->run({}).empty());
  // The same value twice, and a fill: both outputs get their own buffer.
  auto twice = CompiledGraph::compile(trace_graph("twice", [](const std::vector<Tensor>& a) {
    Tensor y = a[0] * 3.0;
    return std::vector<Tensor>{y, y, kiln::fill({2}, 4.0)};
  }, {x}));
  got = twice->run({x});
  EXPECT_TRUE(tensors_match(got[0], x * 3.0));
  EXPECT_TRUE(tensors_match(got[1], x * 3.0));
  EXPECT_NE(got[0].raw_data(), got[1].raw_data());
  EXPECT_TRUE(tensors_match(got[2], kiln::fill({2}, 4.0)));
}

TEST(CompiledGraph, RejectsAnArgumentOfTheWrongShape) {
  auto fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{a[0] * 2.0}; };
  auto cg = CompiledGraph::compile(trace_graph("shape", fn, {random_values({3}, DType::Float32, 0, 1, 1)}));
  EXPECT_TRUE(has(error_of([&] { cg->run({random_values({4}, DType::Float32, 0, 1, 1)}); }), "argument 0 is float32[4]"));
}

TEST(CompiledGraph, LoweringGapIsEmptyForEveryTracedGraphHere) {
  Mlp mlp(1);
  EXPECT_EQ(compiler::lowering_gap(mlp_graph(mlp, 8)), "");
}

// ---- Stages, golden files, dumps ----

TEST(CompilerStages, NamesRoundTripAndUnknownNamesListTheValidOnes) {
  for (int s = 0; s < kNumStages; ++s)
    EXPECT_EQ(parse_stage(stage_name(static_cast<Stage>(s))), static_cast<Stage>(s));
  const std::string e = error_of([] { parse_stage("llvm"); });
  EXPECT_TRUE(has(e, "unknown IR stage 'llvm'"));
  EXPECT_TRUE(has(e, "traced, fused, bufferized, llvm-dialect, llvm-ir, asm"));
}

TEST(CompilerStages, EveryStageHasText) {
  Mlp mlp(2);
  auto cg = CompiledGraph::compile(mlp_graph(mlp, 16));
  EXPECT_TRUE(has(cg->stage_text(Stage::Traced), "linalg.matmul"));
  EXPECT_TRUE(has(cg->stage_text(Stage::Fused), "linalg.generic"));
  EXPECT_TRUE(has(cg->stage_text(Stage::Bufferized), "memref<"));
  EXPECT_TRUE(has(cg->stage_text(Stage::LlvmDialect), "llvm.func @_mlir_ciface_kiln_mlp_step"));
  EXPECT_TRUE(has(cg->stage_text(Stage::LlvmIr), "define void @_mlir_ciface_kiln_mlp_step"));
  EXPECT_TRUE(has(cg->stage_text(Stage::Asm), "_mlir_ciface_kiln_mlp_step:"));
  EXPECT_GT(cg->compile_ms(), 0);
}

TEST(CompilerGolden, MlpStepTracesToLinalg) {
  Mlp mlp(3);
  EXPECT_TRUE(file_check("mlp_step.traced.mlir", compiler::graph_to_linalg(mlp_graph(mlp, 32))));
}

TEST(CompilerGolden, MlpStepAfterFusion) {
  Mlp mlp(3);
  EXPECT_TRUE(file_check("mlp_step.fused.mlir", CompiledGraph::compile(mlp_graph(mlp, 32))->stage_text(Stage::Fused)));
}

TEST(CompilerGolden, SoftmaxCrossEntropyForwardBackwardFuses) {
  auto fn = [](const std::vector<Tensor>& a) {
    GradientTape tape;
    tape.watch({a[1]});
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(a[0], a[1]));
    return std::vector<Tensor>{loss, tape.gradient(loss, {a[1]})[0]};
  };
  std::vector<Tensor> args = {kiln::softmax(random_values({32, 3}, DType::Float32, -1, 1, 1)), random_values({32, 3}, DType::Float32, -2, 2, 2)};
  ir::Graph g = trace_graph("softmax_ce", fn, args);
  auto cg = CompiledGraph::compile(g);
  EXPECT_TRUE(file_check("softmax_ce.fused.mlir", cg->stage_text(Stage::Fused)));
  std::vector<Tensor> got = cg->run(args), want = fn(args);
  EXPECT_TRUE(tensors_match(got[0], want[0]));
  EXPECT_TRUE(tensors_match(got[1], want[1]));
}

TEST(CompilerDump, KilnDumpIrWritesEveryStage) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kiln-dump-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ::setenv("KILN_DUMP_IR", dir.c_str(), 1);
  auto fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{kiln::exp(a[0]) + 1.0}; };
  ir::Graph g = trace_graph("dumped_fn", fn, {random_values({4}, DType::Float32, 0, 1, 1)});
  CompiledGraph::compile(g);
  CompiledGraph::compile(g);
  ::unsetenv("KILN_DUMP_IR");
  for (int n = 0; n < 2; ++n)
    for (const char* f : {"traced.mlir", "fused.mlir", "bufferized.mlir", "llvm-dialect.mlir", "llvm-ir.ll", "asm.s"}) {
      const std::filesystem::path p = dir / ("dumped_fn." + std::to_string(n) + "." + f);
      EXPECT_TRUE(std::filesystem::exists(p)) << p;
      EXPECT_GT(std::filesystem::exists(p) ? std::filesystem::file_size(p) : 0, 0u) << p;
    }
  std::filesystem::remove_all(dir);
}

// A step run under KILN_DUMP_IR=`dir` (with the disk cache off, so that it compiles here), after
// which the variable must hold 3 * 2 = 6 compiled or not; its kiln::function's compile_count().
int64_t compiles_with_dump_dir(const std::string& dir) {
  const char* old_cache = std::getenv("KILN_CACHE_DIR");
  const std::string saved_cache = old_cache != nullptr ? old_cache : "";
  ::setenv("KILN_CACHE_DIR", "off", 1);
  ::setenv("KILN_DUMP_IR", dir.c_str(), 1);
  Variable w(kiln::constant(std::vector<float>{3}));
  auto step = kiln::function([&](const Tensor& x) { return kiln::assign(w, w * x); }, {.name = "dump_dir_step"});
  step(kiln::constant(std::vector<float>{2}));
  ::unsetenv("KILN_DUMP_IR");
  if (old_cache != nullptr) ::setenv("KILN_CACHE_DIR", saved_cache.c_str(), 1);
  else ::unsetenv("KILN_CACHE_DIR");
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>{6});
  return step.compile_count();
}

TEST(CompilerDump, KilnDumpIrCreatesAMissingFolderAndStillCompiles) {
  const std::filesystem::path root = std::filesystem::temp_directory_path() / ("kiln-dump-new-" + std::to_string(::getpid()));
  const std::filesystem::path dir = root / "a" / "b";
  std::filesystem::remove_all(root);
  EXPECT_EQ(compiles_with_dump_dir(dir.string()), 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "dump_dir_step.0.traced.mlir"));
  EXPECT_TRUE(std::filesystem::exists(dir / "dump_dir_step.0.asm.s"));
  std::filesystem::remove_all(root);
}

TEST(CompilerDump, KilnDumpIrThatCannotBeWrittenWarnsAndStillCompiles) {
  // A folder below a regular file can be neither created nor written.
  const std::filesystem::path file = std::filesystem::temp_directory_path() / ("kiln-dump-file-" + std::to_string(::getpid()));
  std::ofstream(file) << "not a folder";
  testing::internal::CaptureStderr();
  const int64_t compiles = compiles_with_dump_dir((file / "ir").string());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(compiles, 1);
  EXPECT_NE(err.find("KILN_DUMP_IR: cannot write " + (file / "ir").string()), std::string::npos) << err;
  EXPECT_NE(err.find("the step still compiles"), std::string::npos) << err;
  std::filesystem::remove(file);
}

TEST(CompilerStages, TracedHeaderNamesTheFunctionOnly) {
  Mlp mlp(3);
  const std::string traced = compiler::graph_to_linalg(mlp_graph(mlp, 8));
  EXPECT_EQ(traced.substr(0, traced.find('\n')), "// kiln::function 'mlp_step' traced to linalg on tensors");
}

}  // namespace
}  // namespace kiln::test
