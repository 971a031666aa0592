// TemporaryBufferCache: per-thread reuse of the blocks compiled code allocates for temporaries
// of dynamic size, and each thread's static workspaces.
//
// Note [Temporary buffer cache]
// A graph compiled once for every size of its -1 dims (Note [Dynamic dims]) has temporaries whose
// sizes are only known per call, so they cannot become views of the static workspace (Note
// [Workspace]); bufferization leaves memref.alloc/dealloc pairs for them (17 in the iris step
// with a -1 batch dim, where its static build has none). Note [Dynamic workspace] gathers those
// sized by the one size value into one allocation per call; the rest (other sizes, loops) stay.
// Lowered as usual they would call malloc and free on every call, which the issue forbids
// ("allocate nothing per call beyond what the outputs need").
// finalize-memref-to-llvm{use-generic-functions=true} makes them call
// `_mlir_memref_to_llvm_alloc/free` instead, defined here: a block freed by a call goes to this
// thread's free list, and an allocation takes a cached block that fits (an exact fit, searched
// from the most recently freed, else the smallest), so a second call at a size, or at any smaller
// size, takes nothing from the system allocator (a test counts it: temporary_buffer_stats). Each
// block carries its capacity in a 64-byte header (free() gets no size) and is 64-byte aligned. At
// most kMaxCachedBlocks free blocks are kept; beyond that a freed block goes back to the system.
// Measured (kiln-bench --model iris, batch 16, 2026-11-24, runs interleaved at autogroup nice -19
// on this shared 2-core machine; compiled_static_us is the static build in the same runs):
//   17 allocations per call (before the dynamic workspace): compiled_us 3.26 / 3.26 / 3.42 us with
//   this cache, 3.76 / 3.54 / 3.58 us with malloc and free (KILN_TEMPORARY_BUFFERS=malloc);
//   static 2.83-3.11 us.
//   One allocation per call (the dynamic workspace): 3.18 / 3.25 us with the cache, 3.20 / 3.35 us
//   with malloc (the same within noise); static 2.82-2.96 us.
// So the workspace removed most of the cost of dynamic temporaries, and the cache is what makes
// "no malloc per call" hold for what is left. The alternative of sizing a per-call workspace for
// every allocation (several size values, allocations inside kiln::while_loop bodies) would need
// offsets as run-time expressions of several sizes; not needed by any step measured here.
// Symbols: registered with the JIT next to the kernels (kernels/cpu/jit/gemm_calls.cc, Note [Object JIT]); a disk
// cache entry (CompileCache.cc) is an object that names them, so a hit links them the same way
// (the static graphs' remaining allocations, in loops, take this path too).
// Note [Workspace per thread]
// Note [Workspace] lays a function's static temporaries out in one memref.global. As a global
// of the JIT-linked object it was one buffer for every thread: two threads calling one compiled
// function at once wrote each other's temporaries (4 threads x 300 calls of a [256,256] step:
// 138-178 of the 1,200 results wrong). So the global is the layout only: after the conversion
// to the LLVM dialect its address becomes a call of kiln_thread_workspace(slot, bytes)
// (kiln-workspaces-per-thread, passes/WorkspacesPerThread.cc), which returns this thread's buffer for
// workspace `slot` (the global kiln_workspace_<slot>), first grown to `bytes` if smaller. The
// calls on one thread run one after another, so every compiled function shares the thread's
// buffers and a call allocates nothing: the cost is a thread-local load and a compare at entry.
// Each buffer is the largest that thread has needed, kept until the thread exits (as the
// global was kept while its module lived). Contents are undefined, as the global's were never
// relied on. A compiled call made from inside another on the same thread (none is today:
// compiled code calls kernels, never compiled code) must not share them: CompiledGraph::run
// sets the running call's buffers aside for it (SetAsideWorkspaces).
#include "kernels/cpu/jit/temporary_buffers.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kiln/error.h"

namespace kiln::kernels::jit {
namespace {

constexpr size_t kHeader = 64;  // also the alignment of every block
constexpr int kMaxCachedBlocks = 64;

struct Block {
  void* base;       // what aligned_alloc returned (the header)
  size_t capacity;  // usable bytes after the header
};

// The hot path touches only trivially constructible thread_locals (no TLS guard per call); the
// owner, which frees the cached blocks when the thread ends, is constructed on the first miss.
thread_local Block t_free[kMaxCachedBlocks];
thread_local int t_count = 0;
thread_local TemporaryBufferStats t_stats;

struct ThreadCacheOwner {
  ~ThreadCacheOwner() {
    for (int i = 0; i < t_count; ++i) std::free(t_free[i].base);
    t_count = 0;
  }
};

// A call frees its blocks in about the order the next call allocates them: scanning from the
// most recently freed block, an exact fit is usually found at once; else the smallest that fits.
void* allocate(uint64_t size) {
  const size_t capacity = (static_cast<size_t>(size) + kHeader - 1) / kHeader * kHeader;
  int best = -1;
  for (int i = t_count - 1; i >= 0; --i) {
    const size_t c = t_free[i].capacity;
    if (c < capacity || (best >= 0 && c >= t_free[best].capacity)) continue;
    best = i;
    if (c == capacity) break;
  }
  if (best >= 0) {
    void* base = t_free[best].base;
    t_free[best] = t_free[--t_count];
    ++t_stats.reuses;
    return static_cast<char*>(base) + kHeader;
  }
  thread_local ThreadCacheOwner owner;
  void* base = std::aligned_alloc(kHeader, kHeader + capacity);
  if (base == nullptr) return nullptr;
  std::memcpy(base, &capacity, sizeof capacity);
  ++t_stats.system_allocations;
  return static_cast<char*>(base) + kHeader;
}

extern "C" void* kiln_temporary_alloc(uint64_t size) { return allocate(size); }

extern "C" void* kiln_temporary_aligned_alloc(uint64_t alignment, uint64_t size) {
  KILN_ASSERT(alignment <= kHeader, "compiled code asks for at most 64-byte alignment");
  return allocate(size);
}

extern "C" void kiln_temporary_free(void* ptr) {
  if (ptr == nullptr) return;
  void* base = static_cast<char*>(ptr) - kHeader;
  if (t_count >= kMaxCachedBlocks) {
    std::free(base);
    return;
  }
  size_t capacity;
  std::memcpy(&capacity, base, sizeof capacity);
  t_free[t_count++] = Block{base, capacity};
}

// Note [Workspace per thread]: trivially constructible (no TLS guard on the call path); the
// owner that frees them at thread exit is constructed on the first growth.
struct ThreadWorkspace {
  void* data;
  uint64_t bytes;
};
thread_local ThreadWorkspace t_workspaces[kThreadWorkspaceSlots];

struct ThreadWorkspacesOwner {
  ~ThreadWorkspacesOwner() {
    for (ThreadWorkspace& w : t_workspaces) {
      std::free(w.data);
      w = ThreadWorkspace{nullptr, 0};
    }
  }
};

__attribute__((noinline, cold)) void* grow_workspace(ThreadWorkspace& w, uint64_t bytes) {
  thread_local ThreadWorkspacesOwner owner;
  const uint64_t capacity = (bytes + kHeader - 1) / kHeader * kHeader;
  std::free(w.data);
  w.data = std::aligned_alloc(kHeader, capacity);
  if (w.data == nullptr) {  // an exception cannot unwind through the compiled code that called
    std::fprintf(stderr, "kiln: out of memory for a compiled function's workspace of %llu bytes\n",
                 static_cast<unsigned long long>(bytes));
    std::abort();
  }
  w.bytes = capacity;
  return w.data;
}

extern "C" void* kiln_thread_workspace(int64_t slot, int64_t bytes) {
  ThreadWorkspace& w = t_workspaces[slot];
  if (w.bytes >= static_cast<uint64_t>(bytes)) [[likely]]
    return w.data;
  return grow_workspace(w, static_cast<uint64_t>(bytes));
}

}  // namespace

SetAsideWorkspaces::SetAsideWorkspaces() {
  for (int i = 0; i < kThreadWorkspaceSlots; ++i) {
    saved_[static_cast<size_t>(i)] = {t_workspaces[i].data, t_workspaces[i].bytes};
    t_workspaces[i] = ThreadWorkspace{nullptr, 0};
  }
}

SetAsideWorkspaces::~SetAsideWorkspaces() {
  for (int i = 0; i < kThreadWorkspaceSlots; ++i) {
    std::free(t_workspaces[i].data);
    t_workspaces[i] = ThreadWorkspace{saved_[static_cast<size_t>(i)].first, saved_[static_cast<size_t>(i)].second};
  }
}

extern "C" void* kiln_plain_malloc(uint64_t size) { return std::malloc(size); }
extern "C" void* kiln_plain_aligned_alloc(uint64_t alignment, uint64_t size) { return std::aligned_alloc(alignment, size); }
extern "C" void kiln_plain_free(void* p) { std::free(p); }

std::vector<std::pair<std::string, void*>> temporary_buffer_symbols() {
  // KILN_TEMPORARY_BUFFERS=malloc, for comparisons: resolved when an object is linked, so the
  // code and the disk cache entry are the same either way.
  const std::pair<std::string, void*> workspace{kThreadWorkspaceFunction, reinterpret_cast<void*>(&kiln_thread_workspace)};
  if (const char* mode = std::getenv("KILN_TEMPORARY_BUFFERS"); mode != nullptr && std::strcmp(mode, "malloc") == 0)
    return {{"_mlir_memref_to_llvm_alloc", reinterpret_cast<void*>(&kiln_plain_malloc)},
            {"_mlir_memref_to_llvm_aligned_alloc", reinterpret_cast<void*>(&kiln_plain_aligned_alloc)},
            {"_mlir_memref_to_llvm_free", reinterpret_cast<void*>(&kiln_plain_free)},
            workspace};
  return {{"_mlir_memref_to_llvm_alloc", reinterpret_cast<void*>(&kiln_temporary_alloc)},
          {"_mlir_memref_to_llvm_aligned_alloc", reinterpret_cast<void*>(&kiln_temporary_aligned_alloc)},
          {"_mlir_memref_to_llvm_free", reinterpret_cast<void*>(&kiln_temporary_free)},
          workspace};
}

TemporaryBufferStats temporary_buffer_stats() {
  TemporaryBufferStats s = t_stats;
  s.cached_blocks = t_count;
  return s;
}

}  // namespace kiln::kernels::jit
