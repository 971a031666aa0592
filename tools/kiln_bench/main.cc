// kiln-bench: speed figures as one JSON object (medians of Google Benchmark repetitions).
//   kiln-bench --dispatch --json        add_1elem_ns, matmul_16x20_ns
//   kiln-bench --model iris --json      model, batch, eager_us and compiled_us (one full training
//                                       step, eagerly and under kiln::function), speedup
//                                       (eager_us / compiled_us), compile_ms (a fresh
//                                       kiln::function's first call: trace and compile, the
//                                       disk compile cache off)
#include <cstdio>
#include <cstring>
#include <string>

#include "kiln/error.h"
#include "tools/kiln_bench/iris_bench.h"
#include "tools/kiln_bench/median_reporter.h"

namespace {
void usage() {
  std::fprintf(stderr, "usage: kiln-bench (--dispatch | --model iris) [--json] [--repetitions N]\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::string model;
  bool dispatch = false, json = false;
  int repetitions = 9;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--dispatch") dispatch = true;
    else if (arg == "--json") json = true;
    else if (arg == "--model" && i + 1 < argc) model = argv[++i];
    else if (arg == "--repetitions" && i + 1 < argc) repetitions = std::atoi(argv[++i]);
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
    // First, while nothing in this process has compiled the step yet.
    const double compile_ms = kiln::bench::iris_first_call_ms();
    auto m = kiln::bench::run_medians(repetitions, "BM_iris_eager_step|BM_iris_compiled_step");
    const double eager_us = m["BM_iris_eager_step"] / 1e3, compiled_us = m["BM_iris_compiled_step"] / 1e3;
    std::printf(json ? "{\"model\": \"iris\", \"batch\": 16, \"eager_us\": %.2f, \"compiled_us\": %.2f, "
                       "\"speedup\": %.2f, \"compile_ms\": %.1f}\n"
                     : "model iris\nbatch 16\neager_us %.2f\ncompiled_us %.2f\nspeedup %.2f\ncompile_ms %.1f\n",
                eager_us, compiled_us, eager_us / compiled_us, compile_ms);
  }
  return 0;
}
