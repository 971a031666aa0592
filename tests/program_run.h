// run_program: runs one of the build's programs (an example, a tool) and captures its output.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace kiln::test {

struct ProgramRun {
  int status = -1;     ///< exit status, -1 when it did not exit normally
  std::string output;  ///< stdout and stderr together
};

/// Runs `<env> KILN_BINARY_DIR/<program> <args>` through the shell (`env`: `VAR=value ...`
/// assignments, or empty), stdout and stderr captured together.
inline ProgramRun run_program(const std::string& program, const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + std::string(KILN_BINARY_DIR) + "/" + program + " " + args + " 2>&1";
  ProgramRun r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace kiln::test
