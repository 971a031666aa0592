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
/// workspace's size in bytes (0: nothing moved, no global).
int64_t allocations_to_workspace(mlir::ModuleOp module);

}  // namespace kiln::compiler
