// The on-disk compile cache (Note [Disk compile cache] in compiler/kiln/compiler/CompileCache.cc):
// a fresh CompiledGraph of the same graph links the cached object and computes the same values;
// corrupt, truncated and foreign entries are never loaded and get rebuilt; a second process
// hits; an unusable directory only turns caching off; threads writing one entry at once leave a
// whole one. Each test uses its own cache directory.
// This file also points the whole test binary at a per-process cache directory (unless
// KILN_CACHE_DIR is set), so that no test depends on, or writes into, the user's ~/.cache.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "kiln/compiler/CompileCache.h"
#include "kiln/tracer/signature.h"
#include "tests/compiler/compiler_test_util.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;
using compiler::CompiledGraph;

// ---- The test binary's own cache directory ----

class ProcessCacheDir : public ::testing::Environment {
 public:
  ProcessCacheDir() {
    if (std::getenv("KILN_CACHE_DIR") != nullptr) return;
    dir_ = ::testing::TempDir() + "kiln-cache-" + std::to_string(::getpid());
    ::setenv("KILN_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

 private:
  std::string dir_;
};
[[maybe_unused]] ::testing::Environment* const process_cache_dir = ::testing::AddGlobalTestEnvironment(new ProcessCacheDir);

// KILN_CACHE_DIR = a fresh directory (or `value`) for one test; the old value comes back after.
class ScopedCacheDir {
 public:
  ScopedCacheDir() : ScopedCacheDir(std::nullopt) {}
  explicit ScopedCacheDir(std::optional<std::string> value) {
    if (const char* old = std::getenv("KILN_CACHE_DIR")) old_ = old;
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = ::testing::TempDir() + "kiln-cache-" + std::to_string(::getpid()) + "-" + info->name();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ::setenv("KILN_CACHE_DIR", value ? value->c_str() : dir_.c_str(), 1);
  }
  ~ScopedCacheDir() {
    if (old_) ::setenv("KILN_CACHE_DIR", old_->c_str(), 1);
    else ::unsetenv("KILN_CACHE_DIR");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ScopedCacheDir(const ScopedCacheDir&) = delete;
  ScopedCacheDir& operator=(const ScopedCacheDir&) = delete;
  const std::string& dir() const { return dir_; }

  // The entry files (*.kobj) in the directory.
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec))
      if (e.path().extension() == ".kobj") out.push_back(e.path());
    return out;
  }

 private:
  std::string dir_;
  std::optional<std::string> old_;
};

// ---- A graph that exercises GEMM calls, libm, reductions and a gradient ----

struct Net {
  Variable w1{random_values({4, 8}, DType::Float32, -0.5, 0.5, 11), true, "w1"};
  Variable b1{random_values({8}, DType::Float32, -0.5, 0.5, 12), true, "b1"};
  Variable w2{random_values({8, 3}, DType::Float32, -0.5, 0.5, 13), true, "w2"};
  std::vector<Tensor> step(const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor h = kiln::tanh(kiln::matmul(x, w1) + b1);
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(kiln::one_hot(y, 3), kiln::matmul(h, w2)));
    std::vector<Tensor> g = tape.gradient(loss, {w1, b1, w2});
    return {loss, g[0], g[1], g[2]};
  }
};

std::vector<Tensor> net_inputs() {
  return {random_values({16, 4}, DType::Float32, -1, 1, 1), random_values({16}, DType::Int32, 0, 3, 2)};
}

ir::Graph net_graph(Net& net) {
  return trace_graph("cache_net", [&net](const std::vector<Tensor>& a) { return net.step(a[0], a[1]); }, net_inputs());
}

void expect_same(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(tensors_match(got[k], want[k])) << "output " << k;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// ---- Tests ----

TEST(CompileCache, HitInTheSameProcessGivesTheSameCodeAndStages) {
  ScopedCacheDir cache;
  Net net;
  ir::Graph g = net_graph(net);
  auto cold = CompiledGraph::compile(g);
  EXPECT_FALSE(cold->from_disk_cache());
  ASSERT_EQ(cache.entries().size(), 1u);
  auto warm = CompiledGraph::compile(g);
  EXPECT_TRUE(warm->from_disk_cache()) << warm->compile_breakdown();
  EXPECT_GT(warm->compile_ms(), 0);
  EXPECT_NE(warm->compile_breakdown().find("disk cache hit"), std::string::npos) << warm->compile_breakdown();
  expect_same(warm->run(net_inputs()), cold->run(net_inputs()));
  expect_same(warm->run(net_inputs()), net.step(net_inputs()[0], net_inputs()[1]));
  // The later stages are regenerated on request, and are what a miss kept.
  for (int s = 0; s < kNumStages; ++s)
    EXPECT_EQ(warm->stage_text(static_cast<Stage>(s)), cold->stage_text(static_cast<Stage>(s))) << stage_name(static_cast<Stage>(s));
  EXPECT_EQ(cache.entries().size(), 1u);
}

// Code with dynamic dims (Note [Dynamic dims]) from the disk cache: its temporaries' allocation
// functions (Note [Temporary buffer cache]) link by name, and it serves every size.
TEST(CompileCache, DynamicDimsCodeFromTheDiskCacheRunsEverySize) {
  ScopedCacheDir cache;
  const int64_t n = symbol_dim(0);
  Tensor w = random_values({4, 5}, DType::Float32, -1, 1, 3);
  auto fn = [&](const std::vector<Tensor>& a) {
    return std::vector<Tensor>{kiln::softmax(kiln::matmul(a[0], w)) * kiln::reduce_mean(a[0])};
  };
  ir::Graph g;
  g.name = "dynamic";
  {
    tracer::TraceContext ctx(g, true);
    ctx.set_outputs(fn({ctx.add_argument(0, DType::Float32, Shape::of_dims({n, 4}))}));
  }
  g = g.pruned();
  auto cold = CompiledGraph::compile(g);
  auto warm = CompiledGraph::compile(g);
  EXPECT_FALSE(cold->from_disk_cache());
  EXPECT_TRUE(warm->from_disk_cache()) << warm->compile_breakdown();
  for (int64_t rows : {5, 9, 2}) {
    std::vector<Tensor> x = {random_values({rows, 4}, DType::Float32, -1, 1, static_cast<uint32_t>(rows))};
    EXPECT_TRUE(tensors_match(warm->run(x)[0], fn(x)[0])) << "rows = " << rows;
  }
}

TEST(CompileCache, ExplainSaysWhenTheCodeCameFromTheDiskCache) {
  ScopedCacheDir cache;
  Tensor x = random_values({3, 5}, DType::Float32, -1, 1, 4);
  auto step = [](const Tensor& t) { return kiln::tanh(t) * 3.0f; };
  auto cold = kiln::function(step, {.name = "explained"});
  cold(x);
  EXPECT_EQ(cold.explain().find("disk cache"), std::string::npos) << cold.explain();
  auto warm = kiln::function(step, {.name = "explained"});  // a new function: the same graph
  warm(x);
  EXPECT_NE(warm.explain().find("(from the disk cache)"), std::string::npos) << warm.explain();
}

TEST(CompileCache, DifferentGraphsGetDifferentEntries) {
  ScopedCacheDir cache;
  Net net;
  auto a = CompiledGraph::compile(net_graph(net));
  GraphFn other = [](const std::vector<Tensor>& x) { return std::vector<Tensor>{kiln::exp(x[0]) * 2.0f}; };
  std::vector<Tensor> in = {random_values({3, 5}, DType::Float32, -1, 1, 3)};
  auto b = CompiledGraph::compile(trace_graph("cache_other", other, in));
  EXPECT_FALSE(a->from_disk_cache());
  EXPECT_FALSE(b->from_disk_cache());
  EXPECT_EQ(cache.entries().size(), 2u);
  auto b2 = CompiledGraph::compile(trace_graph("cache_other", other, in));
  EXPECT_TRUE(b2->from_disk_cache());
  expect_same(b2->run(in), other(in));
}

// Each way of damaging the entry: it must not be loaded, the compile must succeed with correct
// values, and the entry must be rewritten (the next compile hits).
TEST(CompileCache, DamagedEntriesAreIgnoredAndRebuilt) {
  struct Damage {
    const char* name;
    std::string (*apply)(std::string);
  };
  const Damage damages[] = {
      {"payload byte flipped", [](std::string b) { b[b.size() / 2] ^= 0x5a; return b; }},
      {"last byte flipped", [](std::string b) { b.back() ^= 0x01; return b; }},
      {"truncated payload", [](std::string b) { return b.substr(0, b.size() - 7); }},
      {"truncated header", [](std::string b) { return b.substr(0, 20); }},
      {"empty file", [](std::string) { return std::string(); }},
      {"trailing bytes", [](std::string b) { return b + "xyz"; }},
      {"bad magic", [](std::string b) { b[0] = 'X'; return b; }},
      {"other format version", [](std::string b) { b[8] ^= 0x7f; return b; }},
      {"foreign key", [](std::string b) { b[16] = b[16] == '0' ? '1' : '0'; return b; }},
      {"payload length too large", [](std::string b) { b[48 + 4] = 0x10; return b; }},
      {"checksum flipped", [](std::string b) { b[56] ^= 0x01; return b; }},
      {"garbage object, valid header", [](std::string b) {
         // A well-formed entry whose payload is not an object: the header checks pass, the link fails.
         std::string payload(b.size() - 64, 'z');
         uint64_t h = 0xcbf29ce484222325ULL;
         for (char c : payload) { h ^= static_cast<unsigned char>(c); h *= 0x100000001b3ULL; }
         std::memcpy(&b[56], &h, sizeof h);
         return b.substr(0, 64) + payload;
       }},
  };
  ScopedCacheDir cache;
  Net net;
  ir::Graph g = net_graph(net);
  auto cold = CompiledGraph::compile(g);
  ASSERT_EQ(cache.entries().size(), 1u);
  const fs::path entry = cache.entries()[0];
  const std::string good = read_file(entry);
  ASSERT_GT(good.size(), 64u);
  const std::vector<Tensor> want = cold->run(net_inputs());
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.name);
    write_file(entry, d.apply(good));
    auto cg = CompiledGraph::compile(g);
    EXPECT_FALSE(cg->from_disk_cache());
    expect_same(cg->run(net_inputs()), want);
    EXPECT_EQ(read_file(entry), good) << "the entry was not rebuilt";
    EXPECT_TRUE(CompiledGraph::compile(g)->from_disk_cache());
  }
  EXPECT_EQ(cache.entries().size(), 1u);
  for (const auto& e : fs::directory_iterator(cache.dir())) EXPECT_EQ(e.path().extension(), ".kobj") << "left behind: " << e.path();
}

TEST(CompileCache, OffOrEmptyDisablesIt) {
  for (const char* value : {"off", ""}) {
    SCOPED_TRACE(std::string("KILN_CACHE_DIR='") + value + "'");
    ScopedCacheDir cache(std::string{value});
    Net net;
    ir::Graph g = net_graph(net);
    EXPECT_FALSE(CompiledGraph::compile(g)->from_disk_cache());
    auto again = CompiledGraph::compile(g);
    EXPECT_FALSE(again->from_disk_cache());
    expect_same(again->run(net_inputs()), net.step(net_inputs()[0], net_inputs()[1]));
    EXPECT_FALSE(fs::exists(value));
  }
}

TEST(CompileCache, UnusableDirectoryOnlyTurnsCachingOff) {
  // A directory under a regular file cannot be created, whoever runs the test.
  const std::string file = ::testing::TempDir() + "kiln-cache-file-" + std::to_string(::getpid());
  write_file(file, "not a directory");
  {
    ScopedCacheDir cache(file + "/cache");
    Net net;
    ir::Graph g = net_graph(net);
    auto cg = CompiledGraph::compile(g);
    EXPECT_FALSE(cg->from_disk_cache());
    expect_same(cg->run(net_inputs()), net.step(net_inputs()[0], net_inputs()[1]));
    EXPECT_FALSE(CompiledGraph::compile(g)->from_disk_cache());
  }
  std::remove(file.c_str());
}

// The child half of AcrossProcesses: runs only when KILN_CACHE_CHILD_REPORT names a file, into
// which it writes "hit" or "miss" and whether its values were right.
TEST(CompileCacheChild, CompileAndReport) {
  const char* report = std::getenv("KILN_CACHE_CHILD_REPORT");
  if (report == nullptr) GTEST_SKIP() << "run by CompileCache.AcrossProcesses";
  Net net;
  auto cg = CompiledGraph::compile(net_graph(net));
  std::vector<Tensor> got = cg->run(net_inputs()), want = net.step(net_inputs()[0], net_inputs()[1]);
  bool same = got.size() == want.size();
  for (size_t k = 0; same && k < got.size(); ++k) same = static_cast<bool>(tensors_match(got[k], want[k]));
  std::ofstream(report) << (cg->from_disk_cache() ? "hit" : "miss") << (same ? " values-ok" : " values-wrong") << " "
                        << cg->compile_ms() << " ms";
}

TEST(CompileCache, AcrossProcesses) {
  ScopedCacheDir cache;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  const std::string report = cache.dir() + ".report";
  auto child = [&]() -> std::string {
    std::remove(report.c_str());
    const std::string cmd = "KILN_CACHE_DIR='" + cache.dir() + "' KILN_CACHE_CHILD_REPORT='" + report + "' '" + self +
                            "' --gtest_filter=CompileCacheChild.CompileAndReport > /dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return read_file(report);
  };
  const std::string first = child();
  const std::string second = child();
  std::remove(report.c_str());
  EXPECT_EQ(first.substr(0, 15), "miss values-ok ") << first;
  EXPECT_EQ(second.substr(0, 14), "hit values-ok ") << second;
  EXPECT_EQ(cache.entries().size(), 1u);
}

// Threads (or processes) that write one entry at once (two functions of one graph compiled on
// two threads) each write a temporary file of their own and rename it over the entry: a reader
// sees one writer's whole entry, never a mix, and no temporary file stays.
TEST(CompileCacheConcurrency, ThreadsWritingOneEntryLeaveAWholeOne) {
  ScopedCacheDir cache;
  const std::string key = compiler::disk_cache_key("module {}", "threads");
  std::vector<std::string> payloads;
  for (char c : {'a', 'b', 'c', 'd'}) payloads.push_back(std::string(size_t{256} << 10, c));
  std::atomic<int> stored{0}, whole{0};
  std::vector<std::thread> writers;
  for (const std::string& payload : payloads)
    writers.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        stored += compiler::disk_cache_store(cache.dir(), key, payload);
        const std::optional<std::string> got = compiler::disk_cache_load(cache.dir(), key);
        whole += got.has_value() && std::find(payloads.begin(), payloads.end(), *got) != payloads.end();
      }
    });
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(stored.load(), 80);
  EXPECT_EQ(whole.load(), 80) << "every load found one writer's whole entry";
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(cache.dir())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "no temporary file stays";
}

}  // namespace
}  // namespace kiln::test
