// BufferWorkspace: moves a compiled function's per-call buffers into one static workspace
// (Note [Workspace] in BufferWorkspace.cc). MLIR types only by forward declaration.
#pragma once
#include <cstdint>

namespace mlir {
class ModuleOp;
}

namespace kiln::compiler {

/// Rewrites every static-shaped memref.alloc of the entry block of each function in `module`
/// whose memref.dealloc is in the same block into a memref.view of one module-level workspace
/// (a memref.global), buffers whose lifetimes do not overlap sharing bytes. Returns the
/// workspace's size in bytes (0: nothing moved, no global). Then, per function, the allocs sized
/// by one dynamic size value become views of one allocation of that many units (Note [Dynamic
/// workspace]).
int64_t allocations_to_workspace(mlir::ModuleOp module);
/// When BufferWorkspace.cc was compiled: part of pipeline_build_id() (the disk cache key), as
/// its layout of temporaries is not in the traced text.
const char* workspace_build_id();

}  // namespace kiln::compiler
