// A Google Benchmark reporter that keeps the median aggregate of each case.
#include "tools/kiln_bench/median_reporter.h"

#include <benchmark/benchmark.h>

#include <vector>

namespace kiln::bench {
namespace {
class MedianReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  // One repetition has no aggregates: its single run is the median.
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs)
      if ((run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") ||
          (run.run_type == Run::RT_Iteration && run.repetitions <= 1))
        medians[run.run_name.function_name] = run.GetAdjustedRealTime() *
                                              (run.time_unit == benchmark::kNanosecond ? 1.0
                                               : run.time_unit == benchmark::kMicrosecond ? 1e3
                                               : run.time_unit == benchmark::kMillisecond ? 1e6 : 1e9);
  }
  std::map<std::string, double> medians;
};
}  // namespace

std::map<std::string, double> run_medians(int repetitions, const std::string& filter) {
  std::string reps = "--benchmark_repetitions=" + std::to_string(repetitions);
  std::string flt = "--benchmark_filter=" + filter;
  std::string agg = "--benchmark_report_aggregates_only=true";
  // The repetitions of the cases run in a shuffled order, so that a slow spell of this shared
  // machine lands on every case alike and ratios between cases (speedup) stay fair.
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  char arg0[] = "kiln-bench";
  char* argv[] = {arg0, reps.data(), flt.data(), agg.data(), interleave.data(), nullptr};
  int argc = 5;
  benchmark::Initialize(&argc, argv);
  MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  return reporter.medians;
}

}  // namespace kiln::bench
