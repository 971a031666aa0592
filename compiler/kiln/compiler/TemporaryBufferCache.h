// TemporaryBufferCache: the allocation functions compiled code calls for its temporaries of
// dynamic size (Note [Temporary buffer cache]), reusing blocks per thread. No MLIR headers.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::compiler {

/// (symbol name, address) of `_mlir_memref_to_llvm_alloc`, `_mlir_memref_to_llvm_aligned_alloc`
/// and `_mlir_memref_to_llvm_free`, which finalize-memref-to-llvm{use-generic-functions} makes
/// compiled code call for every memref.alloc/dealloc that the workspace (Note [Workspace]) does
/// not absorb. With KILN_TEMPORARY_BUFFERS=malloc they are malloc and free (for comparisons).
std::vector<std::pair<std::string, void*>> temporary_buffer_symbols();

/// What this thread's cache has done since the thread started.
struct TemporaryBufferStats {
  int64_t system_allocations = 0;  ///< blocks taken from the system allocator (cache misses)
  int64_t reuses = 0;              ///< allocations served by a cached block
  int64_t cached_blocks = 0;       ///< free blocks held now
};
TemporaryBufferStats temporary_buffer_stats();

}  // namespace kiln::compiler
