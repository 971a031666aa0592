// TemporaryBufferCache: per-thread reuse of the blocks compiled code allocates for temporaries
// of dynamic size.
//
// Note [Temporary buffer cache]
// A graph compiled once for every size of its -1 dims (Note [Dynamic dims]) has temporaries whose
// sizes are only known per call, so they cannot become views of the static workspace (Note
// [Workspace]); bufferization leaves memref.alloc/dealloc pairs for them (23 in the dynamic iris
// step). Lowered as usual they call malloc and free on every call, which the issue forbids
// ("allocate nothing per call beyond what the outputs need") and which cost as much as the step's
// arithmetic. finalize-memref-to-llvm{use-generic-functions=true} makes them call
// `_mlir_memref_to_llvm_alloc/free` instead, defined here: a block freed by a call goes to this
// thread's free list, and an allocation takes the smallest cached block that fits, so a second
// call at a size (or at any smaller size) takes nothing from the system allocator. Each block
// carries its capacity in a 64-byte header (free() gets no size) and is 64-byte aligned. At most
// kMaxCachedBlocks free blocks are kept; beyond that a freed block goes back to the system.
// The alternative, a workspace sized per call (the largest live set at this call's sizes), would
// need the offsets of Note [Workspace] as run-time expressions in the sizes; the cache needs no
// change to the IR and serves allocations inside loops (kiln::while_loop) too.
// Symbols: registered with the JIT next to the kernels (JitKernels.cc, Note [Object JIT]); a disk
// cache entry (CompileCache.cc) is an object that references them by name, so a hit links them
// the same way.
#include "kiln/compiler/TemporaryBufferCache.h"

#include <cstdlib>
#include <cstring>

#include "kiln/error.h"

namespace kiln::compiler {
namespace {

constexpr size_t kHeader = 64;  // also the alignment of every block
constexpr size_t kMaxCachedBlocks = 64;

struct Block {
  void* base;       // what aligned_alloc returned (the header)
  size_t capacity;  // usable bytes after the header
};

struct ThreadCache {
  std::vector<Block> free_blocks;
  TemporaryBufferStats stats;
  ThreadCache() { free_blocks.reserve(kMaxCachedBlocks); }
  ~ThreadCache() {
    for (const Block& b : free_blocks) std::free(b.base);
  }
};

ThreadCache& cache() {
  thread_local ThreadCache c;
  return c;
}

void* allocate(uint64_t size) {
  ThreadCache& c = cache();
  size_t best = c.free_blocks.size();
  for (size_t i = 0; i < c.free_blocks.size(); ++i)
    if (c.free_blocks[i].capacity >= size && (best == c.free_blocks.size() || c.free_blocks[i].capacity < c.free_blocks[best].capacity))
      best = i;
  if (best < c.free_blocks.size()) {
    Block b = c.free_blocks[best];
    c.free_blocks[best] = c.free_blocks.back();
    c.free_blocks.pop_back();
    ++c.stats.reuses;
    return static_cast<char*>(b.base) + kHeader;
  }
  const size_t capacity = (static_cast<size_t>(size) + kHeader - 1) / kHeader * kHeader;
  void* base = std::aligned_alloc(kHeader, kHeader + capacity);
  if (base == nullptr) return nullptr;
  std::memcpy(base, &capacity, sizeof capacity);
  ++c.stats.system_allocations;
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
  ThreadCache& c = cache();
  if (c.free_blocks.size() >= kMaxCachedBlocks) {
    std::free(base);
    return;
  }
  size_t capacity;
  std::memcpy(&capacity, base, sizeof capacity);
  c.free_blocks.push_back(Block{base, capacity});
}

}  // namespace

std::vector<std::pair<std::string, void*>> temporary_buffer_symbols() {
  return {{"_mlir_memref_to_llvm_alloc", reinterpret_cast<void*>(&kiln_temporary_alloc)},
          {"_mlir_memref_to_llvm_aligned_alloc", reinterpret_cast<void*>(&kiln_temporary_aligned_alloc)},
          {"_mlir_memref_to_llvm_free", reinterpret_cast<void*>(&kiln_temporary_free)}};
}

TemporaryBufferStats temporary_buffer_stats() {
  ThreadCache& c = cache();
  TemporaryBufferStats s = c.stats;
  s.cached_blocks = static_cast<int64_t>(c.free_blocks.size());
  return s;
}

}  // namespace kiln::compiler
