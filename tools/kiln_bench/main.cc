// kiln-bench: speed figures as one JSON object (medians of Google Benchmark repetitions).
//   kiln-bench --dispatch --json        add_1elem_ns, matmul_16x20_ns
//   kiln-bench --model iris --json      model, batch, eager_us and compiled_us (one full training
//                                       step, eagerly and under kiln::function), speedup
//                                       (eager_us / compiled_us, measured side by side),
//                                       compile_ms (first call in a fresh process, empty disk
//                                       cache: trace and compile), disk_cache_ms (the same with
//                                       the disk cache the first one filled)
//   kiln-bench --first-call-ms          (internal) prints the first call's ms in this process
//   kiln-bench --benchmark_...          Google Benchmark's own command line over every registered
//                                       case, e.g. --benchmark_filter=Gemm (gemm_bench.cc: GFLOP/s
//                                       of the CNN's GEMM shapes)
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "kiln/error.h"
#include "tools/kiln_bench/iris_bench.h"
#include "tools/kiln_bench/median_reporter.h"

namespace {
void usage() {
  std::fprintf(stderr,
               "usage: kiln-bench (--dispatch | --model iris) [--json] [--repetitions N]\n"
               "       kiln-bench --benchmark_filter=REGEX [other --benchmark_* flags of Google Benchmark]\n");
}

// The iris step's first-call ms in a fresh process of this program with KILN_CACHE_DIR=`cache_dir`.
double first_call_ms_in_child(const std::string& cache_dir) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = "KILN_CACHE_DIR='" + cache_dir + "' '" + self + "' --first-call-ms";
  FILE* pipe = popen(cmd.c_str(), "r");
  KILN_CHECK(pipe != nullptr, "kiln-bench: cannot run ", cmd);
  double ms = -1;
  const int parsed = std::fscanf(pipe, "%lf", &ms);
  const int status = pclose(pipe);
  KILN_CHECK(parsed == 1 && status == 0, "kiln-bench: ", cmd, " failed (status ", status, ")");
  return ms;
}
}  // namespace

int main(int argc, char** argv) {
  // Google Benchmark's flags: its own runner and console output over the registered cases.
  if (argc > 1 && std::strncmp(argv[1], "--benchmark_", 12) == 0) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  }
  std::string model;
  bool dispatch = false, json = false;
  int repetitions = 9;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--dispatch") dispatch = true;
    else if (arg == "--json") json = true;
    else if (arg == "--model" && i + 1 < argc) model = argv[++i];
    else if (arg == "--repetitions" && i + 1 < argc) repetitions = std::atoi(argv[++i]);
    else if (arg == "--first-call-ms" && argc == 2) {
      std::printf("%.3f\n", kiln::bench::iris_first_call_ms());
      return 0;
    }
    else {
      std::fprintf(stderr, "kiln-bench: unknown option '%s'\n", arg.c_str());
      usage();
      return 2;
    }
  }
  if (dispatch == !model.empty() || (!model.empty() && model != "iris") || repetitions < 1) {
    if (!model.empty() && model != "iris") std::fprintf(stderr, "kiln-bench: unknown model '%s'\n", model.c_str());
    usage();
    return 2;
  }
  if (dispatch) {
    auto m = kiln::bench::run_medians(repetitions, "BM_add_1elem|BM_matmul_16x20");
    std::printf(json ? "{\"add_1elem_ns\": %.1f, \"matmul_16x20_ns\": %.1f}\n"
                     : "add_1elem_ns %.1f\nmatmul_16x20_ns %.1f\n",
                m["BM_add_1elem"], m["BM_matmul_16x20"]);
  } else {
    // Two fresh processes sharing a new, empty disk cache: the first compiles, the second loads.
    char dir_template[] = "/tmp/kiln-bench-cache-XXXXXX";
    KILN_CHECK(::mkdtemp(dir_template) != nullptr, "kiln-bench: cannot create a temporary directory");
    const std::string cache_dir = dir_template;
    const double compile_ms = first_call_ms_in_child(cache_dir);
    const double disk_cache_ms = first_call_ms_in_child(cache_dir);
    std::filesystem::remove_all(cache_dir);
    auto m = kiln::bench::run_medians(repetitions, "BM_iris_eager_step|BM_iris_compiled_step");
    const double eager_us = m["BM_iris_eager_step"] / 1e3, compiled_us = m["BM_iris_compiled_step"] / 1e3;
    std::printf(json ? "{\"model\": \"iris\", \"batch\": 16, \"eager_us\": %.2f, \"compiled_us\": %.2f, "
                       "\"speedup\": %.2f, \"compile_ms\": %.1f, \"disk_cache_ms\": %.1f}\n"
                     : "model iris\nbatch 16\neager_us %.2f\ncompiled_us %.2f\nspeedup %.2f\ncompile_ms %.1f\n"
                       "disk_cache_ms %.1f\n",
                eager_us, compiled_us, eager_us / compiled_us, compile_ms, disk_cache_ms);
  }
  return 0;
}
