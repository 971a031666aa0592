// RUN: kiln-opt --kiln-workspaces-per-thread --verify-diagnostics %s
// A kiln_workspace_<slot> global beyond the thread workspace slots is a diagnostic, not a crash.

// expected-error @below {{a workspace global is an i8 array with a slot below 4}}
llvm.mlir.global private @kiln_workspace_7() {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<64 x i8>
