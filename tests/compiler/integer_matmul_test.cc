// Integer matmuls in compiled code (Note [Integer GEMM]): every form (2-D, transposed, batched, a
// -1 batch dim) is a call of kiln_gemm_<i32|i64> / kiln_batch_gemm_<i32|i64> with no loops left,
// and its results equal eager's and a plain reference's exactly, overflow wrapping around; the
// C kernels on strided views; KILN_COMPILER_GEMM=loops keeps loops with the same results.
#include <cstdlib>
#include <type_traits>

#include "kernels/cpu/jit/jit_abi.h"
#include "kiln/tracer/signature.h"
#include "tests/compiler/compiler_test_util.h"

namespace kiln::test {
namespace {

using compiler::CompiledGraph;

// op(a) op(b) per batch entry, each element summed modulo 2^bits (unsigned arithmetic, where
// wrap-around is defined), independently of the kernels under test. a and b have the same batch
// dims.
template <typename T>
std::vector<T> reference_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  using U = std::make_unsigned_t<T>;
  const int r = a.rank();
  const int64_t ar = a.shape()[r - 2], ac = a.shape()[r - 1], br = b.shape()[r - 2], bc = b.shape()[r - 1];
  const int64_t m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  const int64_t batches = a.num_elements() / std::max<int64_t>(ar * ac, 1);
  const T* A = a.data<T>();
  const T* B = b.data<T>();
  std::vector<T> c(static_cast<size_t>(batches * m * n));
  for (int64_t s = 0; s < batches; ++s)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        U sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          const T x = ta ? A[s * ar * ac + p * ac + i] : A[s * ar * ac + i * ac + p];
          const T y = tb ? B[s * br * bc + j * bc + p] : B[s * br * bc + p * bc + j];
          sum += static_cast<U>(static_cast<U>(x) * static_cast<U>(y));
        }
        c[static_cast<size_t>((s * m + i) * n + j)] = static_cast<T>(sum);
      }
  return c;
}

template <typename T>
::testing::AssertionResult equal_exactly(const Tensor& got, const std::vector<T>& want) {
  if (got.dtype() != dtype_of<T>::value || got.num_elements() != static_cast<int64_t>(want.size()))
    return ::testing::AssertionFailure() << "got " << got.type_str() << ", want " << want.size() << " values";
  const T* g = got.data<T>();
  int mismatches = 0;
  std::ostringstream bad;
  for (size_t i = 0; i < want.size(); ++i)
    if (g[i] != want[i] && mismatches++ < 6) bad << "\n  at " << i << ": got " << g[i] << ", want " << want[i];
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << mismatches << " of " << want.size() << " values differ" << bad.str();
}

::testing::AssertionResult equal_to_eager(const Tensor& got, const Tensor& eager) {
  if (eager.dtype() == DType::Int32) return equal_exactly(got, eager.to_vector<int32_t>());
  return equal_exactly(got, eager.to_vector<int64_t>());
}

::testing::AssertionResult equal_to_reference(const Tensor& got, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  if (a.dtype() == DType::Int32) return equal_exactly(got, reference_matmul<int32_t>(a, b, ta, tb));
  return equal_exactly(got, reference_matmul<int64_t>(a, b, ta, tb));
}

const char* suffix(DType t) { return t == DType::Int32 ? "i32" : "i64"; }

// The bufferized stage has `call` and no contraction left as linalg ops (or loops: a reduction
// iterator is what a loop lowering would leave).
::testing::AssertionResult is_library_call(const CompiledGraph& cg, const std::string& call) {
  const std::string& text = cg.stage_text(Stage::Bufferized);
  for (const char* loops : {"linalg.matmul", "linalg.batch_matmul", "\"reduction\""})
    if (text.find(loops) != std::string::npos) return ::testing::AssertionFailure() << "has " << loops << ":\n" << text;
  if (text.find(call) == std::string::npos) return ::testing::AssertionFailure() << "no " << call << ":\n" << text;
  return ::testing::AssertionSuccess();
}

struct Case {
  Shape a, b;
  bool ta, tb;
  bool batched;
};
// 2-D in every transposition, batched (ranks 3 and 4) in every transposition, products large
// enough to be split over the kernel threads (row panels, then column panels), and enough small
// batched products to be shared out over the threads one each (2^21 multiply-adds in all).
const Case kCases[] = {
    {{5, 4}, {4, 6}, false, false, false},       {{4, 5}, {4, 6}, true, false, false},
    {{5, 4}, {6, 4}, false, true, false},        {{4, 5}, {6, 4}, true, true, false},
    {{3, 5, 4}, {3, 4, 6}, false, false, true},  {{3, 4, 5}, {3, 4, 6}, true, false, true},
    {{2, 3, 5, 4}, {2, 3, 6, 4}, false, true, true}, {{2, 3, 4, 5}, {2, 3, 6, 4}, true, true, true},
    {{150, 200}, {200, 130}, false, false, false}, {{200, 130}, {150, 200}, true, true, false},
    {{130, 200}, {150, 200}, false, true, false}, {{4096, 8, 8}, {4096, 8, 8}, false, true, true}};

Tensor compiled_matmul(const Case& c, DType t, const Tensor& a, const Tensor& b, std::unique_ptr<CompiledGraph>* keep) {
  GraphFn fn = [&c](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(x[0], x[1], c.ta, c.tb)}; };
  *keep = CompiledGraph::compile(trace_graph(std::string("int_matmul_") + suffix(t), fn, {a, b}));
  return (*keep)->run({a, b})[0];
}

// Note [Integer GEMM]: each form is a kernel call, equal to eager and to the reference. Values in
// [-1000, 1000): no overflow.
TEST(CompiledIntegerMatmul, EveryFormIsALibraryCallEqualToEager) {
  for (DType t : {DType::Int32, DType::Int64})
    for (const Case& c : kCases) {
      const std::string what = std::string(dtype_name(t)) + c.a.str() + c.b.str() + (c.ta ? " ta" : "") + (c.tb ? " tb" : "");
      Tensor a = random_values(c.a, t, -1000, 1000, 1), b = random_values(c.b, t, -1000, 1000, 2);
      std::unique_ptr<CompiledGraph> cg;
      Tensor got = compiled_matmul(c, t, a, b, &cg);
      EXPECT_TRUE(equal_to_eager(got, kiln::matmul(a, b, c.ta, c.tb))) << what;
      const std::string call = std::string(c.batched ? "call @kiln_batch_gemm_" : "call @kiln_gemm_") + suffix(t);
      EXPECT_TRUE(is_library_call(*cg, call)) << what;
      EXPECT_TRUE(equal_to_reference(got, a, b, c.ta, c.tb)) << what;
      EXPECT_TRUE(equal_to_reference(kiln::matmul(a, b, c.ta, c.tb), a, b, c.ta, c.tb)) << "eager " << what;
    }
}

// Sums that overflow wrap around (two's complement), eagerly, in the kernel call and in LLVM's
// loops (KILN_COMPILER_GEMM=loops) alike: all three equal the modular reference.
TEST(CompiledIntegerMatmul, OverflowWrapsAroundAsEager) {
  for (DType t : {DType::Int32, DType::Int64})
    for (const Case& c : {kCases[0], kCases[5], kCases[9]}) {
      const std::string what = std::string(dtype_name(t)) + c.a.str() + c.b.str();
      const double big = t == DType::Int32 ? 2147483647.0 : 4.6e18;
      Tensor a = random_values(c.a, t, -big, big, 3), b = random_values(c.b, t, -big, big, 4);
      std::unique_ptr<CompiledGraph> cg;
      EXPECT_TRUE(equal_to_reference(compiled_matmul(c, t, a, b, &cg), a, b, c.ta, c.tb)) << what;
      EXPECT_TRUE(equal_to_reference(kiln::matmul(a, b, c.ta, c.tb), a, b, c.ta, c.tb)) << "eager " << what;
      const char* saved = std::getenv("KILN_COMPILER_GEMM");
      const std::string saved_value = saved ? saved : "";
      setenv("KILN_COMPILER_GEMM", "loops", 1);
      Tensor looped = compiled_matmul(c, t, a, b, &cg);
      if (saved) setenv("KILN_COMPILER_GEMM", saved_value.c_str(), 1);
      else unsetenv("KILN_COMPILER_GEMM");
      EXPECT_EQ(cg->stage_text(Stage::Bufferized).find("call @kiln_"), std::string::npos) << "loops " << what;
      EXPECT_TRUE(equal_to_reference(looped, a, b, c.ta, c.tb)) << "loops " << what;
    }
}

// Note [Zero-filled GEMM output]: an integer product into a temporary (read by a multiply here)
// overwrites it (accumulate = 0) instead of being zero-filled first; the zero is integer.
TEST(CompiledIntegerMatmul, TemporaryOutputIsNotZeroFilled) {
  for (DType t : {DType::Int32, DType::Int64}) {
    Tensor a = random_values({6, 7}, t, -50, 50, 7), b = random_values({7, 5}, t, -50, 50, 8);
    GraphFn fn = [t](const std::vector<Tensor>& x) {
      return std::vector<Tensor>{kiln::matmul(x[0], x[1]) * Tensor::scalar(3.0, t)};
    };
    auto cg = CompiledGraph::compile(trace_graph("int_matmul_times_3", fn, {a, b}));
    const std::string& text = cg->stage_text(Stage::Bufferized);
    EXPECT_TRUE(is_library_call(*cg, std::string("call @kiln_gemm_") + suffix(t)));
    EXPECT_EQ(text.find("linalg.fill"), std::string::npos) << text;
    EXPECT_TRUE(equal_to_eager(cg->run({a, b})[0], fn({a, b})[0])) << dtype_name(t);
  }
}

// Traces `fn` on symbolic arguments of `dtype` whose shapes may hold symbolic dims (Note [Dynamic
// dims]).
ir::Graph trace_template(const std::string& name, const GraphFn& fn, DType dtype, const std::vector<Shape>& shapes) {
  ir::Graph g;
  g.name = name;
  {
    tracer::TraceContext ctx(g, true);
    std::vector<Tensor> args;
    for (size_t k = 0; k < shapes.size(); ++k) args.push_back(ctx.add_argument(k, dtype, shapes[k]));
    ctx.set_outputs(fn(args));
  }
  return g.pruned();
}

// Over a -1 dim: batched (rank 4, the batch dims collapsed into one `?` dim; a^T b^T through a
// transposed copy) and 2-D with `?` rows, one compiled code for every size.
TEST(CompiledIntegerMatmul, MinusOneDimsAreLibraryCalls) {
  const int64_t N = symbol_dim(0);
  struct DynCase {
    Shape a, b;
    bool ta, tb, batched;
  };
  const DynCase cases[] = {{Shape::of_dims({N, 3, 5, 4}), Shape::of_dims({N, 3, 4, 6}), false, false, true},
                           {Shape::of_dims({N, 3, 4, 5}), Shape::of_dims({N, 3, 6, 4}), true, true, true},
                           {Shape::of_dims({N, 8}), {8, 5}, false, false, false},
                           {Shape::of_dims({N, 8}), {5, 8}, false, true, false}};
  for (DType t : {DType::Int32, DType::Int64})
    for (const DynCase& c : cases) {
      auto fn = [&c](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::matmul(x[0], x[1], c.ta, c.tb)}; };
      ir::Graph g = trace_template("dyn_int_matmul", fn, t, {c.a, c.b});
      ASSERT_EQ(compiler::dynamic_gap(g), "");
      auto cg = CompiledGraph::compile(g);
      const std::string call = std::string(c.batched ? "call @kiln_batch_gemm_" : "call @kiln_gemm_") + suffix(t);
      EXPECT_TRUE(is_library_call(*cg, call)) << dtype_name(t) << c.a.str() << c.b.str();
      for (int64_t n : {2, 1, 3}) {
        auto concrete = [n, N](Shape s) {
          if (s.sym(0) == N) s[0] = n;
          return s;
        };
        const Tensor a = random_values(concrete(c.a), t, -100, 100, 5), b = random_values(concrete(c.b), t, -100, 100, 6);
        const Tensor got = cg->run({a, b})[0];
        EXPECT_TRUE(equal_to_reference(got, a, b, c.ta, c.tb)) << dtype_name(t) << " n = " << n;
        EXPECT_TRUE(equal_to_eager(got, kiln::matmul(a, b, c.ta, c.tb))) << dtype_name(t) << " n = " << n;
      }
    }
}

// The C kernel on views whose inner stride is not 1 (a transposed view of a and of c, which it
// computes in dense copies) and with accumulate set: c += a b.
TEST(CompiledIntegerMatmul, KernelTakesStridedViewsAndAccumulates) {
  using Memref2 = kiln::kernels::jit::MemrefDescriptor<int32_t, 2>;
  using Kernel = void (*)(Memref2*, Memref2*, Memref2*, int64_t, int64_t, int64_t);
  Kernel kernel = nullptr;
  for (const auto& [name, address] : kiln::kernels::jit::jit_kernel_symbols())
    if (name == "_mlir_ciface_kiln_gemm_i32") kernel = reinterpret_cast<Kernel>(address);
  ASSERT_NE(kernel, nullptr);
  const int64_t m = 3, k = 4, n = 5;
  std::vector<int32_t> a_t(k * m), b(k * n), c_t(n * m);  // a and c stored transposed
  for (size_t i = 0; i < a_t.size(); ++i) a_t[i] = static_cast<int32_t>(i) - 5;
  for (size_t i = 0; i < b.size(); ++i) b[i] = 3 * static_cast<int32_t>(i) - 20;
  for (size_t i = 0; i < c_t.size(); ++i) c_t[i] = static_cast<int32_t>(i) * 7;
  std::vector<int32_t> want(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32_t s = c_t[j * m + i];
      for (int64_t p = 0; p < k; ++p) s += a_t[p * m + i] * b[p * n + j];
      want[i * n + j] = s;
    }
  Memref2 a{a_t.data(), a_t.data(), 0, {m, k}, {1, m}};
  Memref2 bm{b.data(), b.data(), 0, {k, n}, {n, 1}};
  Memref2 c{c_t.data(), c_t.data(), 0, {m, n}, {1, m}};
  kernel(&a, &bm, &c, 0, 0, 1);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) EXPECT_EQ(c_t[j * m + i], want[i * n + j]) << i << "," << j;
}

}  // namespace
}  // namespace kiln::test
