// ObjectLoader: CompiledModule::load, which links the object code of one compiled module into the
// process with LLVM's RuntimeDyld (LLVM headers only; no MLIR).
//
// Note [Object JIT]
// Each compiled module is one relocatable object (from the JIT TargetMachine: large code model),
// produced by CompiledModule::compile or read from the disk cache. It is linked here by
// RuntimeDyld directly, with a SectionMemoryManager: the objects have no constructors,
// destructors, TLS or lazy symbols, so ORC's LLJIT on top (an ExecutionSession, a JITDylib, a
// TargetMachine for an IR layer that is never used, a DataLayout computed from it) bought nothing
// and cost ~5 ms of the first call in a fresh process (a disk cache hit: perf showed LLJITBuilder
// 2.1 ms and TargetMachine creation 3.1 ms of the 11 ms load). Undefined symbols resolve to
// the JIT-called kernels (kernels/cpu/jit/) first, then to the process (libm, memcpy, malloc).
#include <cstdlib>
#include <cstring>
#include <map>

#include "kernels/cpu/jit/jit_abi.h"
#include "kiln/compiler/LinalgToLLVM.h"
#include "kiln/error.h"
#include "llvm/ExecutionEngine/JITEventListener.h"
#include "llvm/ExecutionEngine/RuntimeDyld.h"
#include "llvm/ExecutionEngine/SectionMemoryManager.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/MemoryBuffer.h"

namespace kiln::compiler {

namespace {
// the JIT-called kernels' symbols, then the process's. Built per load: kernels::jit::jit_kernel_symbols() checks
// KILN_NUM_THREADS, whose bad value must be a kiln::Error at every compile, not only the first.
class KernelResolver final : public llvm::LegacyJITSymbolResolver {
 public:
  KernelResolver() {
    static const bool process_symbols = !llvm::sys::DynamicLibrary::LoadLibraryPermanently(nullptr);
    KILN_ASSERT(process_symbols, "the JIT can look up the process's own symbols");
    for (const auto& [name, address] : kernels::jit::jit_kernel_symbols()) kernels_[name] = reinterpret_cast<uint64_t>(address);
  }
  llvm::JITSymbol findSymbolInLogicalDylib(const std::string&) override { return nullptr; }
  llvm::JITSymbol findSymbol(const std::string& name) override {
    if (auto it = kernels_.find(name); it != kernels_.end()) return {it->second, llvm::JITSymbolFlags::Exported};
    if (uint64_t address = llvm::RTDyldMemoryManager::getSymbolAddressInProcess(name))
      return {address, llvm::JITSymbolFlags::Exported};
    return nullptr;
  }

 private:
  std::map<std::string, uint64_t> kernels_;
};

}  // namespace

// The linked code and what keeps it alive: the memory manager owns the sections.
struct CompiledModule::Linked {
  llvm::SectionMemoryManager memory;
  KernelResolver resolver;
  llvm::RuntimeDyld dyld{memory, resolver};
  ~Linked() { dyld.deregisterEHFrames(); }
};

CompiledModule::CompiledModule() = default;
CompiledModule::~CompiledModule() = default;

std::unique_ptr<CompiledModule> CompiledModule::load(const std::string& object, const std::string& function) {
  std::unique_ptr<CompiledModule> out(new CompiledModule());
  out->linked_ = std::make_unique<Linked>();
  llvm::RuntimeDyld& dyld = out->linked_->dyld;
  const std::string what = "compiler: cannot load the object code of @" + function + ": ";
  auto file = llvm::object::ObjectFile::createObjectFile(llvm::MemoryBufferRef(object, "kiln-" + function));
  if (!file) {
    std::string message;
    llvm::handleAllErrors(file.takeError(), [&](const llvm::ErrorInfoBase& e) { message = e.message(); });
    throw Error(what + message);
  }
  std::unique_ptr<llvm::RuntimeDyld::LoadedObjectInfo> info = dyld.loadObject(**file);
  KILN_CHECK(!dyld.hasError() && info != nullptr, what, dyld.getErrorString().str());
  // KILN_PERF_JIT=1: jit-<pid>.dump records for `perf inject --jit` (profiling).
  if (const char* perf = std::getenv("KILN_PERF_JIT"); perf != nullptr && std::strcmp(perf, "1") == 0)
    if (llvm::JITEventListener* listener = llvm::JITEventListener::createPerfJITEventListener())
      listener->notifyObjectLoaded(reinterpret_cast<llvm::JITEventListener::ObjectKey>(out.get()), **file, *info);
  dyld.finalizeWithMemoryManagerLocking();  // relocations, EH frames, page permissions
  KILN_CHECK(!dyld.hasError(), what, dyld.getErrorString().str());
  const llvm::JITEvaluatedSymbol entry = dyld.getSymbol(packed_entry_name(function));
  KILN_CHECK(entry.getAddress() != 0, "compiler: no entry point for @", function, " in its object code");
  out->entry = reinterpret_cast<void (*)(void**)>(entry.getAddress());
  return out;
}

}  // namespace kiln::compiler
