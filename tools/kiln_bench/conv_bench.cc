// conv2d and its backprops at the article CNN's shapes (batch 128): eager, compiled (a
// kiln::function around the one op), and the GEMM calls alone (the same chunked products the
// kernels make, on buffers prepared once), so that what the convolution adds around the GEMM
// (im2col, col2im) shows as the difference.
#include "tools/kiln_bench/conv_bench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"
#include "kiln/kiln.h"

namespace kiln::bench {

const std::vector<ConvShape>& conv_shapes() {
  static const std::vector<ConvShape> shapes = {{"conv1", {128, 28, 28, 1}, {5, 5, 1, 20}},
                                                {"conv2", {128, 24, 24, 20}, {5, 5, 20, 50}}};
  return shapes;
}

const char* const kConvOps[] = {"conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"};

double conv_gflop(const ConvShape& s) {
  const double n = s.x[0], oh = s.x[1] - s.filter[0] + 1, ow = s.x[2] - s.filter[1] + 1;
  return 2.0 * n * oh * ow * s.filter[0] * s.filter[1] * s.filter[2] * s.filter[3] / 1e9;
}

namespace {

// The op `op` on (x, filter, dy) of shape `s`, "valid" padding, stride 1.
Tensor run_op(int op, const ConvShape& s, const Tensor& a, const Tensor& b) {
  switch (op) {
    case 0: return conv2d(a, b);
    case 1: return conv2d_backprop_input(s.x, a, b);
    default: return conv2d_backprop_filter(a, s.filter, b);
  }
}

// The op's two inputs: (x, filter), (filter, dy) or (x, dy).
std::pair<Tensor, Tensor> op_inputs(int op, const ConvShape& s) {
  Tensor x = random_normal(s.x), f = random_normal(s.filter);
  Tensor dy = random_normal(conv2d(x, f).shape());
  if (op == 0) return {x, f};
  if (op == 1) return {f, dy};
  return {x, dy};
}

void BM_conv_eager(benchmark::State& state, const ConvShape* s, int op) {
  auto [a, b] = op_inputs(op, *s);
  for (auto _ : state) benchmark::DoNotOptimize(run_op(op, *s, a, b));
}

// Compiled: one kiln::function per case, kept for the process (as the iris case: no JIT code
// torn down at exit).
void BM_conv_compiled(benchmark::State& state, const ConvShape* s, int op) {
  auto [a, b] = op_inputs(op, *s);
  auto* f = new auto(kiln::function([s, op](const Tensor& x, const Tensor& y) { return run_op(op, *s, x, y); },
                                    {.name = "conv_bench"}));
  (*f)(a, b);  // trace and compile
  for (auto _ : state) benchmark::DoNotOptimize((*f)(a, b));
}

// The GEMMs of the op's chunk loop alone (Note [Convolution as GEMM] in kernels/cpu/conv.cc).
void BM_conv_gemm_only(benchmark::State& state, const ConvShape* s, int op) {
  const Conv2DGeometry g = conv2d_geometry(s->x[0], s->x[1], s->x[2], s->x[3], s->filter[0],
                                                             s->filter[1], s->filter[3], 1, 1, false);
  const int64_t pixels = g.oh * g.ow, patch = g.patch();
  const int64_t scratch = kernels::conv2d_scratch_elements(g, sizeof(float));
  const int64_t chunk = scratch > 0 ? scratch / (pixels * patch) : g.n;
  std::vector<float> col(static_cast<size_t>(std::max<int64_t>(scratch, 1)), 0.5f), filter(static_cast<size_t>(patch * g.f), 0.25f);
  std::vector<float> dy(static_cast<size_t>(g.n * pixels * g.f), 0.1f), out(static_cast<size_t>(std::max(g.n * pixels * g.f, patch * g.f)));
  for (auto _ : state) {
    for (int64_t b = 0; b < g.n; b += chunk) {
      const int64_t rows = std::min(chunk, g.n - b) * pixels;
      if (op == 0)
        kernels::gemm<float>(false, false, rows, g.f, patch, 1.0f, col.data(), patch, filter.data(), g.f, 0.0f,
                             out.data() + b * pixels * g.f, g.f);
      else if (op == 1)
        kernels::gemm<float>(false, true, rows, patch, g.f, 1.0f, dy.data() + b * pixels * g.f, g.f, filter.data(), g.f,
                             0.0f, col.data(), patch);
      else
        kernels::gemm<float>(true, false, patch, g.f, rows, 1.0f, col.data(), patch, dy.data() + b * pixels * g.f, g.f,
                             b == 0 ? 0.0f : 1.0f, out.data(), g.f);
    }
    benchmark::ClobberMemory();
  }
}

const bool registered = [] {
  for (const ConvShape& s : conv_shapes())
    for (int op = 0; op < 3; ++op) {
      const std::string name = std::string(s.name) + "/" + kConvOps[op];
      benchmark::RegisterBenchmark(("BM_conv_eager/" + name).c_str(), BM_conv_eager, &s, op)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("BM_conv_compiled/" + name).c_str(), BM_conv_compiled, &s, op)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("BM_conv_gemm_only/" + name).c_str(), BM_conv_gemm_only, &s, op)->Unit(benchmark::kMillisecond);
    }
  return true;
}();

}  // namespace
}  // namespace kiln::bench
