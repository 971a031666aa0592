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

}  // namespace
}  // namespace kiln::fuzz
