// The backend registry and the stage names.
#include "kiln/tracer/backend.h"

#include <array>
#include <atomic>

#include "kiln/error.h"

namespace kiln {

namespace {
constexpr std::array<const char*, kNumStages> kStageNames = {"traced", "fused", "bufferized", "llvm-dialect", "llvm-ir", "asm"};
}  // namespace

const char* stage_name(Stage stage) { return kStageNames[static_cast<size_t>(stage)]; }

Stage parse_stage(const std::string& name) {
  for (size_t i = 0; i < kStageNames.size(); ++i)
    if (name == kStageNames[i]) return static_cast<Stage>(i);
  std::string valid;
  for (const char* n : kStageNames) valid += (valid.empty() ? "" : ", ") + std::string(n);
  throw Error("compiler: unknown IR stage '" + name + "'; the stages are " + valid);
}

const char* stage_extension(Stage stage) {
  return stage == Stage::LlvmIr ? ".ll" : stage == Stage::Asm ? ".s" : ".mlir";
}

}  // namespace kiln

namespace kiln::tracer {

// Note [Backends]
// The tracer sits below the compiler: it hands graphs to whatever Backend is registered and
// includes no compiler header. compiler/ registers its CPU backend from a static initializer
// (CpuBackend.cc), an object nothing refers to, so libkiln.a is linked whole (WHOLE_ARCHIVE in
// the top CMakeLists.txt, also for find_package(Kiln) users). Without a backend, kiln::function
// runs every graph on the interpreter and explain() names the reason. A GPU back end will
// register beside the CPU one and be chosen by the tensors' device.
namespace {
std::atomic<const Backend*> g_backend{nullptr};
}  // namespace

void register_backend(const Backend* backend) { g_backend.store(backend, std::memory_order_release); }

const Backend* backend() { return g_backend.load(std::memory_order_acquire); }

}  // namespace kiln::tracer
