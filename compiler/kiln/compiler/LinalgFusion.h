// LinalgFusion: Kiln's fusion of linalg.generic loop nests on tensors beyond MLIR's elementwise
// fusion (sibling reductions, reduction epilogues). No MLIR headers here: the callers hold the
// module, LinalgFusion.cc does the work.
#pragma once

namespace mlir {
class Operation;
}

namespace kiln::compiler {

/// MLIR's linalg-fuse-elementwise-ops (elementwise fusion, reshapes folded by expansion,
/// constant folding) on every function of `module`, except that a contraction (a named matmul) is
/// never rewritten into a generic (Note [Contractions stay named] in LinalgFusion.cc).
void fuse_elementwise_ops(mlir::Operation* module);

/// Note [Kiln fusion] in LinalgFusion.cc, on every function of `module` (linalg on tensors,
/// after elementwise fusion, canonicalize and cse). Returns whether it fused anything; the
/// merged bodies then want canonicalize and cse again (duplicate inputs, common subexpressions).
bool fuse_sibling_and_epilogue_generics(mlir::Operation* module);

/// When LinalgFusion.cc was compiled: part of pipeline_build_id() (the disk cache key).
const char* fusion_build_id();

}  // namespace kiln::compiler
