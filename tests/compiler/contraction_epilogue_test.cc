// Contraction epilogues (Note [Contraction epilogues] in compiler/kiln/compiler/passes/ContractionsToCalls.cc):
// a matmul or conv2d followed by a bias add (+ relu) in a traced step is one kernel call in the
// bufferized stage, and compiled results equal eager's, relu at exactly 0 and NaN inputs
// included; where the rewrite would not be a pure reordering it does not happen. Also the
// dropped zero fill of a matmul's output (Note [Zero-filled GEMM output]).
#include <gtest/gtest.h>

#include <limits>

#include "tests/compiler/compiler_test_util.h"

namespace kiln::test {
namespace {

using compiler::CompiledGraph;

std::string bufferized(const std::string& name, const GraphFn& fn, const std::vector<Tensor>& in) {
  return CompiledGraph::compile(trace_graph(name, fn, in))->stage_text(Stage::Bufferized);
}

// The last argument of every `call @<callee>(...)` in `text`: 1 or 0 for the constants the
// printer names %c1_i64... / %c0_i64... (the relu or accumulate flag), -1 otherwise.
std::vector<int> last_flags(const std::string& text, const std::string& callee) {
  std::vector<int> flags;
  const std::string head = "call @" + callee + "(";
  for (size_t at = text.find(head); at != std::string::npos; at = text.find(head, at + 1)) {
    const size_t close = text.find(')', at);
    const size_t comma = text.rfind(", ", close);
    const std::string last = text.substr(comma + 2, close - comma - 2);
    flags.push_back(last.rfind("%c1_i64", 0) == 0 ? 1 : last.rfind("%c0_i64", 0) == 0 ? 0 : -1);
  }
  return flags;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Tensor values(const Shape& s, DType t, uint32_t seed) { return random_values(s, t, -1, 1, seed); }

// Sets x[row, :] (x viewed as [rows, rest]) to `v`.
void set_row(Tensor& x, int64_t row, double v) {
  const int64_t rest = x.num_elements() / x.dim(0);
  KILN_DISPATCH_FLOAT(x.dtype(), T, {
    for (int64_t j = 0; j < rest; ++j) x.data<T>()[row * rest + j] = static_cast<T>(v);
  });
}

// Two Dense layers (relu, then none) and the tape's gradients: the forward's two matmuls are
// kiln_gemm_bias calls (relu flag 1, then 0). The inputs'
// first row holds a NaN (relu gives 0 where eager does), the second row zeros (pre-activations
// equal to the bias, one of them exactly 0). Shapes cover Eigen on one thread, row panels and
// column panels (the bias offset by each panel's first column).
TEST(ContractionEpilogue, DenseLayersForwardAndBackward) {
  struct Dims {
    int64_t batch, in, hidden;
  };
  for (DType t : {DType::Float32, DType::Float64})
    for (Dims d : {Dims{6, 4, 5}, Dims{2100, 40, 30}, Dims{40, 200, 1500}}) {
      const std::string label = std::string(dtype_name(t)) + " " + std::to_string(d.batch) + "x" + std::to_string(d.in) +
                                "x" + std::to_string(d.hidden);
      SCOPED_TRACE(label);
      GraphFn fn = [](const std::vector<Tensor>& a) {
        GradientTape tape;
        tape.watch({a[1], a[2], a[3], a[4]});
        Tensor h = relu(matmul(a[0], a[1]) + a[2]);
        Tensor out = a[4] + matmul(h, a[3]);
        Tensor loss = reduce_sum(out * out);
        std::vector<Tensor> g = tape.gradient(loss, {a[1], a[2], a[3], a[4]});
        return std::vector<Tensor>{h, out, g[0], g[1], g[2], g[3]};
      };
      // Small values: the long sums (k = 1500) then round within the suite's tolerance (eager
      // and compiled may sum in different orders: LIBXSMM against Eigen for the small products).
      Tensor x = values({d.batch, d.in}, t, 1) * 0.1, b1 = values({d.hidden}, t, 3);
      set_row(x, 0, std::numeric_limits<double>::quiet_NaN());
      set_row(x, 1, 0);
      KILN_DISPATCH_FLOAT(t, T, { b1.data<T>()[2] = T(0); });
      std::vector<Tensor> in = {x, values({d.in, d.hidden}, t, 2) * 0.1, b1, values({d.hidden, 3}, t, 4) * 0.1, values({3}, t, 5)};
      const std::string text = bufferized("dense_" + label, fn, in);
      const std::string et = t == DType::Float32 ? "f32" : "f64";
      EXPECT_EQ(last_flags(text, "kiln_gemm_bias_" + et), (std::vector<int>{1, 0})) << text;
      compiled_vs_eager("dense " + label, fn, in);
    }
}

// conv2d + bias + relu, and conv2d + bias: kiln_conv2d_bias calls with relu 1 and 0, both
// operand orders, a NaN pixel and a zero image (pre-activation = bias, one channel's exactly 0).
TEST(ContractionEpilogue, ConvBiasAndRelu) {
  for (DType t : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(t));
    GraphFn fn = [](const std::vector<Tensor>& a) {
      return std::vector<Tensor>{relu(conv2d(a[0], a[1], {1, 1}, "same") + a[2]), a[2] + conv2d(a[0], a[1], {2, 1}, "valid")};
    };
    Tensor x = values({3, 9, 8, 2}, t, 11), b = values({4}, t, 13);
    set_row(x, 1, 0);
    KILN_DISPATCH_FLOAT(t, T, {
      x.data<T>()[5] = std::numeric_limits<T>::quiet_NaN();
      b.data<T>()[1] = T(0);
    });
    std::vector<Tensor> in = {x, values({3, 3, 2, 4}, t, 12), b};
    const std::string text = bufferized("conv_epilogue", fn, in);
    const std::string et = t == DType::Float32 ? "f32" : "f64";
    EXPECT_EQ(last_flags(text, "kiln_conv2d_bias_" + et), (std::vector<int>{1, 0})) << text;
    EXPECT_EQ(count_of(text, "call @kiln_conv2d_" + et + "("), 0u) << text;
    compiled_vs_eager(std::string("conv2d + bias (+ relu) ") + dtype_name(t), fn, in);
  }
}

// No fusion where the product is read elsewhere too (it is an output), or where the op after
// it is more than a bias add and relu; results still equal eager's.
TEST(ContractionEpilogue, OnlyWhenTheBiasAddIsTheOnlyReader) {
  GraphFn fn = [](const std::vector<Tensor>& a) {
    Tensor y = matmul(a[0], a[1]);
    return std::vector<Tensor>{y, relu(y + a[2]), (matmul(a[1], a[3]) + a[4]) * 2.0};
  };
  std::vector<Tensor> in = {values({6, 5}, DType::Float32, 21), values({5, 4}, DType::Float32, 22),
                            values({4}, DType::Float32, 23), values({4, 3}, DType::Float32, 24),
                            values({3}, DType::Float32, 25)};
  const std::string text = bufferized("no_epilogue", fn, in);
  EXPECT_EQ(count_of(text, "call @kiln_gemm_bias_f32"), 0u) << text;
  EXPECT_EQ(count_of(text, "call @kiln_gemm_f32"), 2u) << text;
  compiled_vs_eager("matmul read twice; bias add then a scale", fn, in);
}

// A variable overwritten with relu(v w + b): the epilogue's output buffer is an operand of the
// product. Fused, the GEMM would clear v before reading it; the results must equal eager's.
TEST(ContractionEpilogue, OutputThatIsAnOperandStaysCorrect) {
  Variable v(values({80, 80}, DType::Float32, 31), true, "v");
  compiled_vs_eager("v = relu(v w + b)",
                    [&v](const std::vector<Tensor>& a) {
                      kiln::assign(v, relu(matmul(v, a[0]) + a[1]));
                      return std::vector<Tensor>{};
                    },
                    {values({80, 80}, DType::Float32, 32), values({80}, DType::Float32, 33)}, {v});
}

// Note [Zero-filled GEMM output]: a matmul's output is not zero-filled first; the call
// overwrites it (accumulate flag 0).
TEST(ContractionEpilogue, MatmulOverwritesItsOutput) {
  for (bool large : {false, true}) {
    GraphFn fn = [](const std::vector<Tensor>& a) { return std::vector<Tensor>{matmul(a[0], a[1], true, false) * 3.0}; };
    const int64_t m = large ? 300 : 7;
    std::vector<Tensor> in = {values({m, m}, DType::Float64, 41), values({m, 5}, DType::Float64, 42)};
    const std::string text = bufferized("zero_fill", fn, in);
    EXPECT_EQ(count_of(text, "linalg.fill"), 0u) << text;
    EXPECT_EQ(last_flags(text, "kiln_gemm_f64"), std::vector<int>{0}) << text;
    compiled_vs_eager("matmul_transpose_a, then a scale", fn, in);
  }
}

}  // namespace
}  // namespace kiln::test
