// Workspace: names and sizes the workspace passes share (kiln-allocations-to-workspace,
// kiln-outline-disjoint-views, kiln-mark-noalias-arguments, kiln-workspaces-per-thread).
#pragma once
#include <cstdint>

#include "llvm/ADT/StringRef.h"

namespace kiln::compiler {

/// The alignment of the workspace and of every buffer in it.
inline constexpr int64_t kWorkspaceAlignment = 64;
/// Marks a view whose bytes no other view of its workspace shares (Note [Disjoint temporaries]).
inline constexpr llvm::StringLiteral kDisjointView = "kiln.disjoint_view";
/// On a function outlined by kiln-outline-disjoint-views: the LLVM parameter positions of its
/// disjoint views' aligned pointers (Note [Disjoint temporaries]).
inline constexpr llvm::StringLiteral kNoAliasArguments = "kiln.noalias_arguments";
/// The workspace globals are kiln_workspace_<slot> (Note [Workspace per thread]).
inline constexpr llvm::StringLiteral kWorkspacePrefix = "kiln_workspace_";

}  // namespace kiln::compiler
