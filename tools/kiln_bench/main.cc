// kiln-bench: Kiln's speed figures (medians of Google Benchmark repetitions), as lines or one JSON
// object; kHelp below (`kiln-bench --help`) lists the modes and what each reports. `--first-call-ms [--model cnn
// --batch N]` (internal) prints the first call's ms in this process, for the fresh-process figures.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "kiln/error.h"
#include "tools/kiln_bench/cnn_bench.h"
#include "tools/kiln_bench/conv_bench.h"
#include "tools/kiln_bench/fma_roof.h"
#include "tools/kiln_bench/iris_bench.h"
#include "tools/kiln_bench/median_reporter.h"

namespace {
constexpr const char* kUsage =
    "usage: kiln-bench (--dispatch | --model iris | --model cnn [--batch N] | --conv | --pool | --roof) [--json] "
    "[--repetitions N]\n"
    "       kiln-bench --benchmark_filter=REGEX [other --benchmark_* flags of Google Benchmark]\n"
    "       kiln-bench --help\n";

// The whole usage: what `--help` prints (to stdout, exit 0).
constexpr const char* kHelp =
    "Kiln's speed figures: medians of Google Benchmark repetitions, one per line or, with --json, as\n"
    "one JSON object.\n"
    "  --dispatch          eager dispatch: add_1elem_ns, matmul_16x20_ns\n"
    "  --model iris        one full iris training step (batch 16), eagerly and under kiln::function:\n"
    "                      eager_us, compiled_us, speedup (eager_us / compiled_us, measured side by\n"
    "                      side), compile_ms (first call in a fresh process, empty disk cache: trace\n"
    "                      and compile), disk_cache_ms (the same with the disk cache the first one\n"
    "                      filled), compiled_static_us (the step without an input_signature)\n"
    "  --model cnn         the article's CNN step at --batch N (default 128): eager_us, compiled_us,\n"
    "                      speedup, compile_ms (first call in a fresh process, empty disk cache, less\n"
    "                      one compiled step), gflops (training FLOPs per step / compiled step),\n"
    "                      eager_gflops, roof_gflops (the --roof figure, measured first) and\n"
    "                      roof_fraction (gflops / roof_gflops)\n"
    "  --conv              conv2d and its backprops at the CNN's conv shapes (batch 128): us and GFLOP/s\n"
    "                      eager and compiled, gemm_us (the GEMM calls alone) and the share of the\n"
    "                      eager time outside them (im2col, col2im)\n"
    "  --pool              max_pool2d at [128,24,24,20], 2x2 stride 2 valid: eager and compiled forward\n"
    "                      (*_fwd_us) and forward + max_pool2d_grad (*_fwd_grad_us)\n"
    "  --roof              roof_gflops: this machine's float32 FMA roof on the kernel threads\n"
    "                      (independent FMA chains in registers on each; the best of 5 rounds)\n"
    "  --json              one JSON object instead of lines\n"
    "  --repetitions N     repetitions per case (default 9; 5 for --model cnn)\n"
    "  --benchmark_...     Google Benchmark's own command line over every registered case, e.g.\n"
    "                      --benchmark_filter=Gemm (GFLOP/s of the CNN's GEMM shapes)\n"
    "Environment: KILN_NUM_THREADS (kernel threads), KILN_CACHE_DIR (the disk compile cache).\n";

void usage() { std::fputs(kUsage, stderr); }

// The first-call ms of `model_args`' step in a fresh process of this program with
// KILN_CACHE_DIR=`cache_dir`.
double first_call_ms_in_child(const std::string& cache_dir, const std::string& model_args) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = "KILN_CACHE_DIR='" + cache_dir + "' '" + self + "' --first-call-ms" + model_args;
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
  bool dispatch = false, json = false, conv = false, pool = false, roof = false;
  bool first_call = false;
  int repetitions = -1;
  long long batch = -1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s\n%s", kUsage, kHelp);
      return 0;
    }
    if (arg == "--dispatch") dispatch = true;
    else if (arg == "--conv") conv = true;
    else if (arg == "--pool") pool = true;
    else if (arg == "--roof") roof = true;
    else if (arg == "--json") json = true;
    else if (arg == "--first-call-ms") first_call = true;
    else if (arg == "--model" && i + 1 < argc) model = argv[++i];
    else if (arg == "--repetitions" && i + 1 < argc) repetitions = std::atoi(argv[++i]);
    else if (arg == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else {
      std::fprintf(stderr, "kiln-bench: unknown option '%s'\n", arg.c_str());
      usage();
      return 2;
    }
  }
  if (first_call && model.empty()) model = "iris";
  bool ok = int(dispatch) + int(!model.empty()) + int(conv) + int(pool) + int(roof) == 1;
  if (!model.empty() && model != "iris" && model != "cnn") {
    std::fprintf(stderr, "kiln-bench: unknown model '%s'\n", model.c_str());
    ok = false;
  }
  if (batch != -1 && (model != "cnn" || batch < 1)) {
    std::fprintf(stderr, "kiln-bench: --batch takes a positive size, with --model cnn only\n");
    ok = false;
  }
  if (batch == -1) batch = 128;
  if (repetitions == -1) repetitions = model == "cnn" ? 5 : 9;
  if (!ok || repetitions < 1) {
    usage();
    return 2;
  }
  if (first_call) {
    std::printf("%.3f\n", model == "cnn" ? kiln::bench::cnn_first_call_ms(batch) : kiln::bench::iris_first_call_ms());
    return 0;
  }
  if (roof) {
    std::printf(json ? "{\"roof_gflops\": %.1f}\n" : "roof_gflops %.1f\n", kiln::bench::fma_roof_gflops());
    return 0;
  }
  if (conv) {
    auto m = kiln::bench::run_medians(repetitions, "BM_conv_");
    std::string out = json ? "{" : "";
    for (const kiln::bench::ConvShape& s : kiln::bench::conv_shapes())
      for (const char* op : kiln::bench::kConvOps) {
        const std::string key = std::string(s.name) + "/" + op;
        const double eager = m["BM_conv_eager/" + key] / 1e3, compiled = m["BM_conv_compiled/" + key] / 1e3;
        const double gemm = m["BM_conv_gemm_only/" + key] / 1e3, gflop = kiln::bench::conv_gflop(s);
        char line[512];
        std::snprintf(line, sizeof line,
                      json ? "%s\"%s\": {\"eager_us\": %.1f, \"eager_gflops\": %.1f, \"compiled_us\": %.1f, "
                             "\"compiled_gflops\": %.1f, \"gemm_us\": %.1f, \"outside_gemm\": %.2f}"
                           : "%s%-30s eager %10.1f us %6.1f GFLOP/s | compiled %10.1f us %6.1f GFLOP/s | gemm alone "
                             "%10.1f us, outside the gemm %3.0f%%\n",
                      json && out.size() > 1 ? ", " : "", key.c_str(), eager, gflop / eager * 1e6, compiled,
                      gflop / compiled * 1e6, gemm, json ? (eager - gemm) / eager : 100 * (eager - gemm) / eager);
        out += line;
      }
    std::printf("%s%s", out.c_str(), json ? "}\n" : "");
  } else if (pool) {
    auto m = kiln::bench::run_medians(repetitions, "BM_max_pool_");
    std::printf(json ? "{\"shape\": \"[128,24,24,20]\", \"eager_fwd_us\": %.1f, \"eager_fwd_grad_us\": %.1f, "
                       "\"compiled_fwd_us\": %.1f, \"compiled_fwd_grad_us\": %.1f}\n"
                     : "shape [128,24,24,20]\neager_fwd_us %.1f\neager_fwd_grad_us %.1f\ncompiled_fwd_us %.1f\n"
                       "compiled_fwd_grad_us %.1f\n",
                m["BM_max_pool_eager_fwd"] / 1e3, m["BM_max_pool_eager_fwd_grad"] / 1e3,
                m["BM_max_pool_compiled_fwd"] / 1e3, m["BM_max_pool_compiled_fwd_grad"] / 1e3);
  } else if (dispatch) {
    auto m = kiln::bench::run_medians(repetitions, "BM_add_1elem|BM_matmul_16x20");
    std::printf(json ? "{\"add_1elem_ns\": %.1f, \"matmul_16x20_ns\": %.1f}\n"
                     : "add_1elem_ns %.1f\nmatmul_16x20_ns %.1f\n",
                m["BM_add_1elem"], m["BM_matmul_16x20"]);
  } else if (model == "cnn") {
    const double roof_gflops = kiln::bench::fma_roof_gflops();  // first, while nothing else of ours runs
    kiln::bench::set_cnn_batch(batch);
    char dir_template[] = "/tmp/kiln-bench-cache-XXXXXX";
    KILN_CHECK(::mkdtemp(dir_template) != nullptr, "kiln-bench: cannot create a temporary directory");
    const double first_ms = first_call_ms_in_child(dir_template, " --model cnn --batch " + std::to_string(batch));
    std::filesystem::remove_all(dir_template);
    auto m = kiln::bench::run_medians(repetitions, "BM_cnn_eager_step|BM_cnn_compiled_step");
    const double eager_us = m["BM_cnn_eager_step"] / 1e3, compiled_us = m["BM_cnn_compiled_step"] / 1e3;
    const double flops = kiln::bench::cnn_step_flops(batch);
    const double gflops = flops / compiled_us / 1e3;
    std::printf(json ? "{\"model\": \"cnn\", \"batch\": %lld, \"eager_us\": %.1f, \"compiled_us\": %.1f, "
                       "\"speedup\": %.2f, \"compile_ms\": %.1f, \"gflops\": %.1f, \"eager_gflops\": %.1f, "
                       "\"roof_gflops\": %.1f, \"roof_fraction\": %.3f}\n"
                     : "model cnn\nbatch %lld\neager_us %.1f\ncompiled_us %.1f\nspeedup %.2f\ncompile_ms %.1f\n"
                       "gflops %.1f\neager_gflops %.1f\nroof_gflops %.1f\nroof_fraction %.3f\n",
                batch, eager_us, compiled_us, eager_us / compiled_us, first_ms - compiled_us / 1e3, gflops,
                flops / eager_us / 1e3, roof_gflops, gflops / roof_gflops);
  } else {
    // Two fresh processes sharing a new, empty disk cache: the first compiles, the second loads.
    char dir_template[] = "/tmp/kiln-bench-cache-XXXXXX";
    KILN_CHECK(::mkdtemp(dir_template) != nullptr, "kiln-bench: cannot create a temporary directory");
    const std::string cache_dir = dir_template;
    const double compile_ms = first_call_ms_in_child(cache_dir, "");
    const double disk_cache_ms = first_call_ms_in_child(cache_dir, "");
    std::filesystem::remove_all(cache_dir);
    auto m = kiln::bench::run_medians(repetitions, "BM_iris_eager_step|BM_iris_compiled_step|BM_iris_compiled_static_step");
    const double eager_us = m["BM_iris_eager_step"] / 1e3, compiled_us = m["BM_iris_compiled_step"] / 1e3;
    const double static_us = m["BM_iris_compiled_static_step"] / 1e3;
    std::printf(json ? "{\"model\": \"iris\", \"batch\": 16, \"eager_us\": %.2f, \"compiled_us\": %.2f, "
                       "\"speedup\": %.2f, \"compile_ms\": %.1f, \"disk_cache_ms\": %.1f, \"compiled_static_us\": %.2f}\n"
                     : "model iris\nbatch 16\neager_us %.2f\ncompiled_us %.2f\nspeedup %.2f\ncompile_ms %.1f\n"
                       "disk_cache_ms %.1f\ncompiled_static_us %.2f\n",
                eager_us, compiled_us, eager_us / compiled_us, compile_ms, disk_cache_ms, static_us);
  }
  return 0;
}
