// Shared machinery of the compiler tests: tracing a lambda into a kiln::ir::Graph with
// TraceContext, compiling it, and comparing compiled results (and variables) with eager.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/compiler/compiled_graph.h"
#include "kiln/kiln.h"
#include "kiln/tracer/trace_context.h"

namespace kiln::test {

using GraphFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

/// Traces `fn` on symbolic arguments shaped like `examples` (undefined ones stay non-tensor).
inline ir::Graph trace_graph(const std::string& name, const GraphFn& fn, const std::vector<Tensor>& examples) {
  ir::Graph g;
  g.name = name;
  tracer::TraceContext ctx(g, true);
  std::vector<Tensor> args;
  for (size_t k = 0; k < examples.size(); ++k)
    args.push_back(examples[k].defined() ? ctx.add_argument(k, examples[k].dtype(), examples[k].shape()) : Tensor());
  ctx.set_outputs(fn(args));
  return g;
}

/// Values in [lo, hi) of `dtype` (integers floored, bool about half true), deterministic.
inline Tensor random_values(const Shape& shape, DType dtype, double lo, double hi, uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> dist(dtype == DType::Bool ? 0 : lo, dtype == DType::Bool ? 2 : hi);
  Tensor t = Tensor::empty(shape, dtype);
  KILN_DISPATCH_ALL(dtype, T, {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      double x = dist(engine);
      if constexpr (std::is_same_v<T, bool>) p[i] = x >= 1;
      else if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(std::floor(x));
      else p[i] = static_cast<T>(x);
    }
  });
  return t;
}

inline double rel_tolerance(DType dtype) { return dtype == DType::Float32 ? 1e-5 : dtype == DType::Float64 ? 1e-12 : 0; }

/// got == want in shape and dtype, and in value within rel_tolerance * max(1, |want|).
inline ::testing::AssertionResult tensors_match(const Tensor& got, const Tensor& want) {
  if (got.defined() != want.defined())
    return ::testing::AssertionFailure() << "defined: got " << got.defined() << ", want " << want.defined();
  if (!got.defined()) return ::testing::AssertionSuccess();
  if (got.dtype() != want.dtype() || got.shape() != want.shape())
    return ::testing::AssertionFailure() << "got " << dtype_name(got.dtype()) << got.shape().str() << ", want "
                                         << dtype_name(want.dtype()) << want.shape().str();
  const double tol = rel_tolerance(want.dtype());
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  std::ostringstream bad;
  int mismatches = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if ((std::isnan(g[i]) && std::isnan(w[i])) || g[i] == w[i]) continue;
    if (std::fabs(g[i] - w[i]) <= tol * std::max(1.0, std::fabs(w[i]))) continue;
    if (mismatches++ < 6) bad << "\n  at " << i << ": got " << g[i] << ", want " << w[i];
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << mismatches << " of " << g.size() << " values differ" << bad.str();
}

/// Ops seen in the graphs compiled by compiled_vs_eager (the op table test checks each op's
/// cases really compile it).
inline std::map<std::string, int>& compiled_op_counts() {
  static std::map<std::string, int> counts;
  return counts;
}

/// Traces `fn` on `inputs`, compiles it, runs it, and compares every output with eager `fn`.
/// `vars`: variables `fn` writes; their values after the compiled run must match eager's, and
/// the compiled run must write them in place (same storage).
inline void compiled_vs_eager(const std::string& label, const GraphFn& fn, const std::vector<Tensor>& inputs,
                              const std::vector<Variable>& vars = {}) {
  SCOPED_TRACE(label);
  std::vector<Tensor> initial;
  for (const Variable& v : vars) initial.push_back(v.clone());
  ir::Graph g = trace_graph(label, fn, inputs);
  for (const ir::GraphNode& n : g.nodes) ++compiled_op_counts()[op_def(n.op).name];
  const std::string gap = compiler::lowering_gap(g);
  ASSERT_EQ(gap, "");
  std::unique_ptr<compiler::CompiledGraph> cg;
  try {
    cg = compiler::CompiledGraph::compile(g);
  } catch (const Error& e) {
    FAIL() << "compile failed: " << e.what() << "\n" << compiler::graph_to_linalg(g);
  }
  std::vector<const void*> storage;
  for (const Variable& v : vars) storage.push_back(v.raw_data());
  std::vector<Tensor> got = cg->run(inputs);
  std::vector<Tensor> got_vars;
  for (size_t k = 0; k < vars.size(); ++k) {
    EXPECT_EQ(vars[k].raw_data(), storage[k]) << "variable " << k << " was not written in place";
    got_vars.push_back(vars[k].clone());
    vars[k].assign(initial[k]);
  }
  std::vector<Tensor> want = fn(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(tensors_match(got[k], want[k])) << "output " << k << "\n" << cg->stage_text(Stage::Traced);
  for (size_t k = 0; k < vars.size(); ++k) EXPECT_TRUE(tensors_match(got_vars[k], vars[k])) << "variable " << k;
}

// Runs FileCheck with the golden file `check` (tests/compiler/) on `text`.
inline ::testing::AssertionResult file_check(const std::string& check, const std::string& text) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kiln-filecheck-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path input = dir / (check + ".input"), log = dir / (check + ".log");
  std::ofstream(input) << text;
  const std::string cmd = std::string(KILN_FILECHECK) + " " + KILN_SOURCE_DIR + "/tests/compiler/" + check +
                          " --input-file=" + input.string() + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  if (rc == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << cmd << " failed:\n" << out;
}

}  // namespace kiln::test
