// Regressions of what the fuzzers found: the inputs libFuzzer found for the readers of outside
// bytes (tests/fuzz/regressions/<reader>/, each parsed or refused with kiln::Error within a
// memory limit), and minimized programs of the differential fuzzer, compiled against eager.
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/compiler/compiler_test_util.h"
#include "tests/fuzz/reader_inputs.h"

namespace kiln::fuzz {
namespace {

// Caps this process's address space at what it maps now plus `extra` bytes (a child's: the
// death tests below fork), so that a reader allocating what a corrupt header claims fails.
// AddressSanitizer maps terabytes of shadow memory up front, so sanitized builds skip the cap.
void limit_address_space(size_t extra) {
#if defined(__SANITIZE_ADDRESS__)
  (void)extra;
#else
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  statm >> pages;
  const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + extra;
  const rlimit r{limit, limit};
  setrlimit(RLIMIT_AS, &r);
#endif
}

// Each reader in a child process of its own (a death test) whose address space is capped: every
// input must parse or be refused with kiln::Error (the cache: a miss) without a crash, another
// exception, or an allocation of what a corrupt header claims. The child names each input on
// stderr first, so a failure shows which.
TEST(FuzzReaderRegressions, EachInputParsesOrIsAKilnErrorWithin1GiB) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::filesystem::path root = std::filesystem::path(KILN_SOURCE_DIR) / "tests/fuzz/regressions";
  int inputs = 0;
  for (Reader reader : {Reader::Csv, Reader::Idx, Reader::Safetensors, Reader::CacheEntry}) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(root / reader_name(reader))) files.push_back(entry.path());
    EXPECT_FALSE(files.empty()) << "no regression inputs for " << reader_name(reader);
    inputs += static_cast<int>(files.size());
    EXPECT_EXIT(
        {
          limit_address_space(size_t{1} << 30);
          for (const std::filesystem::path& file : files) {
            std::fprintf(stderr, "%s\n", file.c_str());
            std::ifstream in(file, std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            read_bytes(reader, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
          }
          std::exit(0);
        },
        ::testing::ExitedWithCode(0), "")
        << reader_name(reader);
  }
  EXPECT_GE(inputs, 4);
}

// Fuzz seeds 45, 137, 277, ...: a softmax in each branch of a cond on one value. The row
// statistics the then branch computed were reused by the else branch, where they are not
// defined, and the module failed to parse (the step ran on the interpreter).
TEST(FuzzProgramRegressions, SoftmaxOfOneValueInBothBranchesOfACond) {
  auto body = [](const Tensor& x, const Tensor& y) {
    const Tensor pred = kiln::less(kiln::reduce_sum(y), kiln::fill({}, 0));
    const Tensor r = kiln::cond(pred, [&] { return kiln::softmax(x); }, [&] { return kiln::log_softmax(x); });
    return std::vector<Tensor>{r, kiln::softmax(x)};
  };
  auto f = kiln::function(body);
  const Tensor x = Tensor::from_vector<float>({0.75, 0.875, 1.875, 0.875}, {4});
  for (float y0 : {-1.0f, 1.0f}) {  // both branches
    const Tensor y = Tensor::from_vector<float>({y0, 0.5}, {2});
    const std::vector<Tensor> got = f(x, y), want = body(x, y);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(test::tensors_match(got[k], want[k])) << "y0 " << y0 << ", output " << k;
  }
  EXPECT_EQ(f.compile_count(), 1) << f.explain();
  EXPECT_EQ(f.explain().find("interpreted"), std::string::npos) << f.explain();
}

// Fuzz F3 (seeds 184, 215, 300502, 300691, ...): a cond branch passing through a value that is
// also an output. Empty-tensor elimination computed the value in the cond's output buffer, which
// the other branch overwrites, and bufferization failed ("cannot avoid RaW conflict"): the step
// ran on the interpreter (Note [Materializations that alias]). Over -1 dims too (seed 300268 has
// a random tensor passed through, seed 300321 a cast).
TEST(FuzzProgramRegressions, CondBranchPassingThroughAnOutput) {
  auto body = [](const Tensor& x) {
    const Tensor s = kiln::reduce_sum(x);
    const Tensor r = kiln::cond(kiln::less(s, kiln::fill({}, 5.75)), [&] { return s; }, [&] { return kiln::tanh(s); });
    const Tensor m = kiln::cond(kiln::less(s, kiln::fill({}, 5.75)), [&] { return kiln::exp(x); }, [&] { return x * 2.0; });
    const Tensor c = kiln::cast(x, DType::Float64);
    const Tensor n = kiln::cond(kiln::greater(s, kiln::fill({}, 0.0)),
                                [&] { return kiln::cond(kiln::greater(s, kiln::fill({}, 9.0)), [&] { return c; },
                                                        [&] { return kiln::neg(c); }); },
                                [&] { return kiln::maximum(c, kiln::fill({}, 0.0, DType::Float64)); });
    return std::vector<Tensor>{r, s, m, n, c};
  };
  for (bool dynamic : {false, true}) {
    auto f = kiln::function(body, {.input_signature = {TensorSpec{{dynamic ? -1 : 5}}}});
    for (float scale : {1.0f, 4.0f}) {  // s = 5.25 and 21: both branches of each cond
      const Tensor x = kiln::mul(Tensor::from_vector<float>({0.5, 1, 1.5, 2, 0.25}, {5}), Tensor::scalar(scale));
      const std::vector<Tensor> got = f(x), want = body(x);
      for (size_t k = 0; k < got.size(); ++k)
        EXPECT_TRUE(test::tensors_match(got[k], want[k])) << "scale " << scale << ", output " << k;
    }
    EXPECT_EQ(f.explain().find("interpreted"), std::string::npos) << f.explain();
  }
}

// Fuzz seeds 50994, 54095: both branches of a cond yield one value for two results, which are
// outputs (after cse both branches' fills were one value per branch): the two results reached
// two destinations through one buffer and bufferization failed ("cannot avoid RaW conflict").
TEST(FuzzProgramRegressions, CondYieldingOneValueForTwoOutputs) {
  auto body = [](const Tensor& x) {
    const Tensor zero = kiln::fill({}, 0.0);
    const std::vector<Tensor> r = kiln::cond(kiln::greater(kiln::reduce_sum(x), zero),
                                             [&] { return std::vector<Tensor>{zero, zero}; },
                                             [&] { return std::vector<Tensor>{zero, zero}; });
    return std::vector<Tensor>{r[1], zero, r[0]};
  };
  auto f = kiln::function(body);
  for (float sign : {1.0f, -1.0f}) {
    const Tensor x = kiln::fill({4, 3}, sign);
    const std::vector<Tensor> got = f(x), want = body(x);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(test::tensors_match(got[k], want[k])) << "output " << k;
  }
  EXPECT_EQ(f.explain().find("interpreted"), std::string::npos) << f.explain();
}

// Fuzz seed 59155: one zero fill (after cse) is both an output (the zero gradient of a variable
// the loss does not reach) and the initial value of the scatter loop of gather's gradient,
// which updates it in place: bufferization failed ("cannot avoid RaW conflict") and the step ran
// on the interpreter. The loop gets a fill of its own.
TEST(FuzzProgramRegressions, ZeroFillThatIsAnOutputAndALoopsInitialValue) {
  Variable unused(Tensor::from_vector<float>({0.25, 0.75, -0.125, -0.1875}, {2, 2}), true);
  auto body = [&](const Tensor& x) {
    GradientTape tape;
    tape.watch(x);
    const Tensor loss = kiln::reduce_sum(kiln::gather(x, Tensor::from_vector<int32_t>({0, 0, 1}, {3})));
    std::vector<Tensor> g = tape.gradient(loss, {x, unused}, {}, UnconnectedGradients::Zero);
    return std::vector<Tensor>{loss, g[0], g[1]};
  };
  auto f = kiln::function(body);
  const Tensor x = Tensor::from_vector<float>({0.5, 1, 1.5, 2}, {2, 2});
  const std::vector<Tensor> got = f(x), want = body(x);
  for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(test::tensors_match(got[k], want[k])) << "output " << k;
  EXPECT_EQ(f.explain().find("interpreted"), std::string::npos) << f.explain();
}

// Fuzz seed 68186: an int32 division over [N, N]. Its zero check's flat positions use literal
// strides, which dynamic_gap did not know: the shared compile failed ("compiling failed" in
// explain()) before the per-size code ran. Now the reason is known before compiling, and a float
// division over the same dims still shares one code.
TEST(FuzzProgramRegressions, IntegerDivisionOverMinusOneDimsCompilesPerSizeWithItsReason) {
  auto body = [](const Tensor& x) {
    const Tensor m = kiln::matmul(x, x, false, true);
    return kiln::div(m, kiln::maximum(m, kiln::fill({}, 1, x.dtype())));
  };
  for (DType dtype : {DType::Int32, DType::Float32}) {
    auto f = kiln::function(body, {.input_signature = {TensorSpec{{-1, 2}, dtype}}});
    for (int64_t n : {3, 1}) {
      const Tensor x = kiln::cast(kiln::fill({n, 2}, 2.0, DType::Int32) - kiln::fill({n, 2}, 3.0, DType::Int32), dtype);
      EXPECT_TRUE(test::tensors_match(f(x), body(x))) << dtype_name(dtype) << ", n = " << n;
    }
    const std::string explain = f.explain();
    EXPECT_EQ(explain.find("compiling failed"), std::string::npos) << explain;
    if (dtype == DType::Int32)
      EXPECT_NE(explain.find("an integer division's zero check has literal strides"), std::string::npos) << explain;
    else
      EXPECT_EQ(f.compile_count(), 1) << explain;
  }
}

// Fuzz seed 81265: cse merged a cond branch's log_softmax with the same one outside, and
// canonicalize turned the cond into an arith.select of two tensors, one of them also an output:
// bufferization failed ("cannot avoid RaW conflict") and the step ran on the interpreter.
TEST(FuzzProgramRegressions, CondThatBecomesASelectOfAnOutput) {
  auto body = [](const Tensor& x, const Tensor& y) {
    const Tensor outside = kiln::log_softmax(x);
    const Tensor r = kiln::cond(kiln::less(kiln::reduce_sum(y), kiln::fill({}, 0.0)),
                                [&] { return kiln::log_softmax(x); }, [&] { return x; });
    return std::vector<Tensor>{r, outside};
  };
  auto f = kiln::function(body);
  const Tensor x = test::random_values({3, 3, 2}, DType::Float32, 0.25, 2, 1);
  for (float sign : {1.0f, -1.0f}) {
    const Tensor y = kiln::fill({3}, sign);
    const std::vector<Tensor> got = f(x, y), want = body(x, y);
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(test::tensors_match(got[k], want[k])) << "sign " << sign << ", output " << k;
  }
  EXPECT_EQ(f.explain().find("interpreted"), std::string::npos) << f.explain();
}

// Fuzz F7 (seed 300208): a variable assigned another's old value, which an optimizer then
// updates in the same step. The update wrote w in place before its old value was copied into
// s, and bufferization failed ("cannot avoid RaW conflict"): the step ran on the interpreter.
TEST(FuzzProgramRegressions, AssignOfAVariableTheStepThenUpdates) {
  const Tensor w0 = test::random_values({5, 6}, DType::Float32, -1, 1, 1);
  const Tensor s0 = test::random_values({5, 6}, DType::Float32, -1, 1, 2);
  const Tensor x = test::random_values({3, 6}, DType::Float32, -1, 1, 3);
  Variable w(w0, true), s(s0, false);
  optim::SGD eager_opt({.learning_rate = 0.25}), compiled_opt(eager_opt.options());
  auto make_step = [&](optim::Optimizer* opt) {
    return [&, opt](const Tensor& in) {
      GradientTape tape;
      const Tensor loss = kiln::reduce_sum(kiln::matmul(in, w, false, true));
      kiln::assign(s, w);
      opt->apply_gradients({tape.gradient(loss, {w})[0]}, {w});
      return std::vector<Tensor>{};
    };
  };
  auto f = kiln::function(make_step(&compiled_opt));
  f(x);
  const Tensor w_compiled = w.clone(), s_compiled = s.clone();
  w.assign(w0);
  s.assign(s0);
  make_step(&eager_opt)(x);
  EXPECT_TRUE(test::tensors_match(w_compiled, w));
  EXPECT_TRUE(test::tensors_match(s_compiled, s));
  EXPECT_TRUE(test::tensors_match(s_compiled, w0));
  EXPECT_EQ(f.explain().find("interpreted"), std::string::npos) << f.explain();
}

}  // namespace
}  // namespace kiln::fuzz
