// kiln-compiler-bench: compile time and per-call time of compiled graphs against the graph
// interpreter (GraphRunner) and eager kernels: an iris MLP training step and single matmuls.
// Numbers for reports, not a test: `kiln-compiler-bench [iterations]`. The first compile of each
// step uses the disk cache as configured (KILN_CACHE_DIR): run twice with the same fresh
// KILN_CACHE_DIR to see a cold first compile, then a disk hit in a fresh process; the averaged
// compile times are always without the disk cache.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "kiln/compiler/compiled_graph.h"
#include "kiln/kiln.h"
#include "kiln/ir/interpreter.h"
#include "kiln/tracer/trace_context.h"

namespace {
using kiln::DType;
using kiln::Shape;
using kiln::Tensor;
using kiln::Variable;
using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

kiln::ir::Graph trace(const std::string& name, const Fn& fn, const std::vector<Tensor>& args) {
  kiln::ir::Graph g;
  g.name = name;
  kiln::tracer::TraceContext ctx(g, true);
  std::vector<Tensor> sym;
  for (size_t k = 0; k < args.size(); ++k) sym.push_back(ctx.add_argument(k, args[k].dtype(), args[k].shape()));
  ctx.set_outputs(fn(sym));
  return g;
}

// Median wall time of one call, in microseconds.
double time_us(const std::function<void()>& f, int iterations) {
  for (int i = 0; i < std::max(3, iterations / 20); ++i) f();  // warm up
  std::vector<double> t;
  for (int i = 0; i < iterations; ++i) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Tensor normal(const Shape& s, uint64_t seed) {
  kiln::Generator g(seed);
  return kiln::random_normal(s, 0.0, 0.5, DType::Float32, &g);
}

struct Mlp {
  std::vector<Variable> p, m, v;
  Tensor lr = Tensor::scalar(0.01f);
  explicit Mlp(const std::vector<int64_t>& widths) {
    for (size_t k = 0; k + 1 < widths.size(); ++k) {
      for (Shape s : {Shape{widths[k], widths[k + 1]}, Shape{widths[k + 1]}}) {
        p.emplace_back(normal(s, 1 + p.size()), true);
        m.emplace_back(kiln::zeros(s), false);
        v.emplace_back(kiln::zeros(s), false);
      }
    }
  }
  Tensor step(const Tensor& x, const Tensor& y) {
    kiln::GradientTape tape;
    Tensor h = x;
    for (size_t k = 0; k < p.size(); k += 2) {
      h = kiln::matmul(h, p[k]) + p[k + 1];
      if (k + 2 < p.size()) h = kiln::relu(h);
    }
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(y, 3), h));
    std::vector<Tensor> g = tape.gradient(loss, p);
    for (size_t k = 0; k < p.size(); ++k) kiln::apply_adam(p[k], m[k], v[k], g[k], lr, 0.9, 0.999, 1e-7);
    return loss;
  }
};

void bench_step(const char* label, const std::vector<int64_t>& widths, int64_t batch, int iterations) {
  Mlp mlp(widths);
  Tensor x = normal({batch, widths[0]}, 5);
  Tensor y = kiln::cast(kiln::random_uniform({batch}, 0, 3, DType::Float32), DType::Int32);
  Fn fn = [&](const std::vector<Tensor>& a) { return std::vector<Tensor>{mlp.step(a[0], a[1])}; };
  kiln::ir::Graph g = trace(label, fn, {x, y});
  int live = 0;
  for (bool l : g.live_nodes()) live += l;
  auto cg = kiln::compiler::CompiledGraph::compile(g);
  double compile2 = 0;
  {
    const char* old = std::getenv("KILN_CACHE_DIR");
    const std::string saved = old != nullptr ? old : "";
    ::setenv("KILN_CACHE_DIR", "off", 1);
    for (int i = 0; i < 3; ++i) compile2 += kiln::compiler::CompiledGraph::compile(g)->compile_ms() / 3;
    if (old != nullptr) ::setenv("KILN_CACHE_DIR", saved.c_str(), 1);
    else ::unsetenv("KILN_CACHE_DIR");
  }
  kiln::ir::GraphRunner runner(g);
  const double interp = time_us([&] { runner.run({x, y}); }, iterations);
  const double compiled = time_us([&] { cg->run({x, y}); }, iterations);
  const double eager = time_us([&] { fn({x, y}); }, iterations);
  std::printf("%-28s %3d ops  compile %7.1f ms (first %7.1f, %s)  eager %8.1f us  interpreter %8.1f us  compiled %8.1f us  (%.1fx vs interpreter)\n",
              label, live, compile2, cg->compile_ms(), cg->from_disk_cache() ? "disk cache hit" : "no disk hit", eager, interp, compiled, interp / compiled);
  std::printf("    %s\n", cg->compile_breakdown().c_str());
}

void bench_matmul(int64_t m, int64_t k, int64_t n, int iterations) {
  Tensor a = normal({m, k}, 1), b = normal({k, n}, 2);
  Fn fn = [](const std::vector<Tensor>& t) { return std::vector<Tensor>{kiln::matmul(t[0], t[1])}; };
  auto cg = kiln::compiler::CompiledGraph::compile(trace("matmul", fn, {a, b}));
  const double eager = time_us([&] { kiln::matmul(a, b); }, iterations);
  const double compiled = time_us([&] { cg->run({a, b}); }, iterations);
  const double flops = 2.0 * static_cast<double>(m * k * n);
  std::printf("matmul [%lld,%lld]x[%lld,%lld]  eager (Eigen) %9.2f us %6.2f GFLOP/s   compiled %9.2f us %6.2f GFLOP/s\n",
              static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(k), static_cast<long long>(n), eager,
              flops / eager / 1e3, compiled, flops / compiled / 1e3);
}
}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  bench_step("iris MLP 4-10-3, batch 32", {4, 10, 3}, 32, iterations);
  bench_step("iris MLP 4-10-10-3, batch 32", {4, 10, 10, 3}, 32, iterations);
  bench_step("MLP 64-256-256-3, batch 128", {64, 256, 256, 3}, 128, std::max(20, iterations / 20));
  bench_matmul(32, 4, 10, iterations);
  bench_matmul(32, 10, 3, iterations);
  bench_matmul(128, 256, 256, std::max(20, iterations / 20));
  bench_matmul(512, 512, 512, 5);
  return 0;
}
