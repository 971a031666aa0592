// kiln-bench: eager speed figures as one JSON object (medians of Google Benchmark repetitions).
//   kiln-bench --dispatch --json        add_1elem_ns, matmul_16x20_ns
//   kiln-bench --model iris --json      model, batch, eager_us (one full training step)
#include <cstdio>
#include <cstring>
#include <string>

#include "kiln/error.h"
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
    auto m = kiln::bench::run_medians(repetitions, "BM_iris_eager_step");
    std::printf(json ? "{\"model\": \"iris\", \"batch\": 16, \"eager_us\": %.2f}\n"
                     : "model iris\nbatch 16\neager_us %.2f\n",
                m["BM_iris_eager_step"] / 1e3);
  }
  return 0;
}
