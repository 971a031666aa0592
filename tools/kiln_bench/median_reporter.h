// Runs registered Google Benchmark cases with repetitions and collects each case's median time.
#pragma once
#include <map>
#include <string>

namespace kiln::bench {

/// Median wall time per iteration, in nanoseconds, of each benchmark case run so far, by name.
/// `repetitions` runs of each case (Google Benchmark picks the iteration count of each run), the
/// runs of all the cases interleaved in a random order.
std::map<std::string, double> run_medians(int repetitions, const std::string& filter);

}  // namespace kiln::bench
