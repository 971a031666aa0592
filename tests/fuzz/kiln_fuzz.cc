// kiln-fuzz: runs random programs eagerly and compiled and compares them (tools/kiln fuzz):
// programs per second, a summary, and for each failure its seed, a replay command and the
// minimized program.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

#include "tests/fuzz/differential.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 60;
  int64_t count = -1;  // no limit
  uint64_t seed = 1;
  bool replay = false;
  bool print = false;
  bool cpp = false;       // --replay prints the minimized program as C++ too
  bool minimize = true;  // --no-minimize: long runs report failing seeds only (replay minimizes)
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--seconds N] [--count K] [--seed S] [--no-minimize] [--replay S [--cpp]] [--print S]\n"
               "  runs programs of seeds S, S+1, ... (eager against kiln::function) for N seconds (default 60)\n"
               "  or K programs; --replay S runs program S alone, prints it and minimizes it if it fails\n"
               "  (--cpp: and prints the minimized program as a C++ test case); --no-minimize reports\n"
               "  failing seeds without minimizing them (a minimization costs seconds to a minute);\n"
               "  --print S prints program S without running it. Exit status 1 when a program failed.\n",
               argv0);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0]);
      return argv[++i];
    };
    try {
      if (a == "--seconds") o.seconds = std::stod(value());
      else if (a == "--count") o.count = std::stoll(value());
      else if (a == "--seed") o.seed = std::stoull(value());
      else if (a == "--replay") o.seed = std::stoull(value()), o.replay = true, o.count = 1;
      else if (a == "--print") o.seed = std::stoull(value()), o.print = true;
      else if (a == "--cpp") o.cpp = true;
      else if (a == "--no-minimize") o.minimize = false;
      else usage(argv[0]);
    } catch (const std::logic_error&) {
      usage(argv[0]);
    }
  }
  return o;
}

// Reports a failing program: its seed, how to replay it, and the minimized program.
void report_failure(const kiln::fuzz::Program& p, const kiln::fuzz::Outcome& o, const char* argv0, const Options& opt) {
  using namespace kiln::fuzz;
  std::cout << "\nFAILED seed " << p.seed << ": " << verdict_name(o.verdict) << "\n" << o.detail << "\n";
  std::cout << "replay: " << argv0 << " --replay " << p.seed << "   (or: tools/kiln fuzz --replay " << p.seed << ")\n";
  if (!opt.minimize) return;
  const Verdict kind = o.verdict;
  const Program small = minimize(p, [kind](const Program& q) { return run_differential(q).verdict == kind; });
  const Outcome again = run_differential(small);
  std::cout << "minimized program (" << instruction_count(small) << " instructions, from " << instruction_count(p)
            << "):\n"
            << program_text(small) << again.detail << "\n"
            << std::flush;
  if (opt.cpp) std::cout << "\n" << program_cpp(small, static_cast<int>(small.call_sizes.size())) << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kiln::fuzz;
  const Options opt = parse(argc, argv);
  // Fuzz programs are all different: the disk cache would only fill the disk.
  setenv("KILN_CACHE_DIR", "off", 1);
  if (opt.print) {
    std::cout << program_text(generate_program(opt.seed));
    return 0;
  }
  if (opt.replay) std::cout << program_text(generate_program(opt.seed));
  const Clock::time_point start = Clock::now();
  Clock::time_point last_report = start;
  std::map<Verdict, int64_t> verdicts;
  int64_t programs = 0, interpreted = 0, compiles = 0, instructions = 0, dynamic = 0, per_size = 0, reads_sizes = 0;
  double worst = 0;
  uint64_t worst_seed = 0;
  std::map<std::string, int64_t> ops;
  for (uint64_t seed = opt.seed;; ++seed) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if ((opt.count >= 0 && programs >= opt.count) || (opt.count < 0 && elapsed >= opt.seconds)) break;
    const Program p = generate_program(seed);
    const Outcome o = run_differential(p);
    ++programs;
    ++verdicts[o.verdict];
    interpreted += o.interpreted;
    dynamic += p.num_classes() > 0;
    per_size += o.per_size;
    reads_sizes += p.reads_sizes;
    compiles += o.compiles;
    instructions += instruction_count(p);
    if (o.worst_ratio > worst) worst = o.worst_ratio, worst_seed = seed;
    for (const std::string& op : ops_called(p)) ++ops[op];
    if (o.verdict != Verdict::Match) report_failure(p, o, argv[0], opt);
    else if (opt.replay) std::cout << "match\n" << o.explain;
    if (std::chrono::duration<double>(Clock::now() - last_report).count() >= 10) {
      last_report = Clock::now();
      std::cout << "seed " << seed << ": " << programs << " programs in "
                << static_cast<int64_t>(std::chrono::duration<double>(last_report - start).count()) << " s, "
                << verdicts[Verdict::Mismatch] + verdicts[Verdict::CompiledError] << " failed\n"
                << std::flush;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const int64_t failed = verdicts[Verdict::Mismatch] + verdicts[Verdict::CompiledError] + verdicts[Verdict::InvalidProgram];
  std::cout << "\nkiln-fuzz: seeds " << opt.seed << ".." << opt.seed + static_cast<uint64_t>(programs) - 1 << ": "
            << programs << " programs in " << elapsed << " s (" << static_cast<double>(programs) / elapsed
            << " programs/s), " << instructions << " instructions, " << compiles << " compiles\n"
            << "  " << verdicts[Verdict::Match] << " matched, " << verdicts[Verdict::Mismatch] << " mismatched, "
            << verdicts[Verdict::CompiledError] << " compiled errors, " << verdicts[Verdict::InvalidProgram]
            << " invalid programs; " << interpreted << " ran some call on the interpreter\n"
            << "  " << dynamic << " with -1 dims (" << reads_sizes << " reading their sizes as numbers), " << per_size
            << " compiled per size\n"
            << "  largest error / tolerance on a match: " << worst << " (seed " << worst_seed << ")\n  ops:";
  for (const auto& [name, n] : ops) std::cout << " " << name << "=" << n;
  std::cout << "\n";
  return failed == 0 ? 0 : 1;
}
