// kiln-dump's command line: --help prints the usage and the stages; bad arguments exit 2 with it.
// (Its output is checked by the golden.iris_step_traced and tools.kiln_dump_all_stages ctests.)
#include <gtest/gtest.h>

#include <string>

#include "tests/program_run.h"

namespace {

using kiln::test::ProgramRun;

ProgramRun run_dump(const std::string& args) { return kiln::test::run_program("tools/kiln-dump", args); }

TEST(KilnDump, HelpPrintsUsageAndEveryStage) {
  for (const char* args : {"--help", "-h", "--example iris --help"}) {
    ProgramRun r = run_dump(args);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.output;
    for (const char* part : {"usage: kiln-dump --example iris --stage", "--out DIR", "traced", "fused", "bufferized",
                             "llvm-dialect", "llvm-ir", "asm", "all", "KILN_DUMP_IR"})
      EXPECT_NE(r.output.find(part), std::string::npos) << args << ": no '" << part << "' in\n" << r.output;
    EXPECT_EQ(r.output.find("// ----"), std::string::npos) << args << ": it dumped IR\n" << r.output;
  }
}

TEST(KilnDump, BadArgumentsExitTwoWithTheUsage) {
  for (const char* args : {"", "--stage fused", "--example mnist --stage fused", "--example iris --stage",
                           "--example iris --stage fused --verbose x"}) {
    ProgramRun r = run_dump(args);
    EXPECT_EQ(r.status, 2) << "'" << args << "'\n" << r.output;
    EXPECT_NE(r.output.find("usage: kiln-dump"), std::string::npos) << "'" << args << "'\n" << r.output;
  }
}

}  // namespace
