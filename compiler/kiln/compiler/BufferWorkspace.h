// BufferWorkspace: moves a compiled function's per-call buffers into one static workspace
// (Note [Workspace] in BufferWorkspace.cc). MLIR types only by forward declaration.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
}

namespace kiln::compiler {

/// Rewrites every static-shaped memref.alloc of the entry block of each function in `module`
/// whose memref.dealloc is in the same block into a memref.view of one workspace (a
/// memref.global, kiln_workspace_<slot>: its layout; workspaces_per_thread gives it the calling
/// thread's bytes), buffers whose lifetimes do not overlap sharing bytes. Returns the
/// workspace's size in bytes (0: nothing moved, no global). Then, per function, the allocs sized
/// by one dynamic size value become views of one allocation of that many units (Note [Dynamic
/// workspace]).
int64_t allocations_to_workspace(mlir::ModuleOp module);
/// A function body moved out of its entry function by outline_disjoint_views, and the positions
/// of its LLVM parameters that are noalias (each disjoint temporary's aligned pointer).
struct NoAliasBody {
  std::string function;
  std::vector<unsigned> noalias_arguments;
};
/// Note [Disjoint temporaries]: in each function whose workspace gave its temporaries bytes of
/// their own, moves everything but the computation of those views into a private function that
/// takes them as arguments, called from where the body was.
std::vector<NoAliasBody> outline_disjoint_views(mlir::ModuleOp module);
/// After the conversion to the LLVM dialect: marks the bodies' view arguments noalias, the bodies
/// internal and always inlined.
void mark_noalias_arguments(mlir::ModuleOp module, const std::vector<NoAliasBody>& bodies);
/// After the conversion to the LLVM dialect: every workspace global's address becomes a call of
/// kiln_thread_workspace (Note [Workspace per thread] in TemporaryBufferCache.cc), the global goes.
void workspaces_per_thread(mlir::ModuleOp module);
/// When BufferWorkspace.cc was compiled: part of pipeline_build_id() (the disk cache key), as
/// its layout of temporaries is not in the traced text.
const char* workspace_build_id();

}  // namespace kiln::compiler
