// TemporaryBufferCache: the allocation functions compiled code calls for its temporaries of
// dynamic size (Note [Temporary buffer cache]), reusing blocks per thread, and each thread's
// static workspaces (Note [Workspace per thread]). No MLIR headers.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::kernels::jit {

/// (symbol name, address) of `_mlir_memref_to_llvm_alloc`, `_mlir_memref_to_llvm_aligned_alloc`
/// and `_mlir_memref_to_llvm_free`, which finalize-memref-to-llvm{use-generic-functions} makes
/// compiled code call for every memref.alloc/dealloc that the workspace (Note [Workspace]) does
/// not absorb, and of kThreadWorkspaceFunction. With KILN_TEMPORARY_BUFFERS=malloc the first
/// three are malloc and free (for comparisons).
std::vector<std::pair<std::string, void*>> temporary_buffer_symbols();

/// Note [Workspace per thread]: `void* kiln_thread_workspace(int64 slot, int64 bytes)`, this
/// thread's buffer for workspace `slot` (at least `bytes`, 64-byte aligned), slot < kThreadWorkspaceSlots.
inline constexpr const char* kThreadWorkspaceFunction = "kiln_thread_workspace";
inline constexpr int kThreadWorkspaceSlots = 4;

/// While it lives, compiled code on this thread gets workspaces other than those of a compiled
/// call already running on it (for a call made from inside another: Note [Workspace per
/// thread]); they are freed, and the running call's given back, when it ends.
class SetAsideWorkspaces {
 public:
  SetAsideWorkspaces();
  ~SetAsideWorkspaces();
  SetAsideWorkspaces(const SetAsideWorkspaces&) = delete;
  SetAsideWorkspaces& operator=(const SetAsideWorkspaces&) = delete;

 private:
  std::array<std::pair<void*, uint64_t>, kThreadWorkspaceSlots> saved_;
};

/// What this thread's cache has done since the thread started.
struct TemporaryBufferStats {
  int64_t system_allocations = 0;  ///< blocks taken from the system allocator (cache misses)
  int64_t reuses = 0;              ///< allocations served by a cached block
  int64_t cached_blocks = 0;       ///< free blocks held now
};
TemporaryBufferStats temporary_buffer_stats();

}  // namespace kiln::kernels::jit
