// RUN: kiln-opt --kiln-mark-noalias-arguments %s | FileCheck %s
// Note [Disjoint temporaries] (OutlineDisjointViews.cc), after the conversion to the LLVM dialect: an
// outlined body's kiln.noalias_arguments positions become llvm.noalias on those pointer
// arguments (FuncToLLVM drops them on memrefs), and the body becomes internal and always-inline,
// so that LLVM inlines it back into its caller with the views' accesses in alias scopes.

// The entry function has no kiln.noalias_arguments: it keeps its linkage and gets no attributes.
// CHECK-LABEL: llvm.func @step(%{{[^:]*}}: !llvm.ptr, %{{[^:]*}}: i64) {
// CHECK: llvm.call @step_body
llvm.func @step(%x: !llvm.ptr, %n: i64) {
  %ws = llvm.alloca %n x f32 : (i64) -> !llvm.ptr
  llvm.call @step_body(%x, %ws, %n) : (!llvm.ptr, !llvm.ptr, i64) -> ()
  llvm.return
}

// The body: parameter 1 (the view's aligned pointer) is noalias, parameter 0 (an argument that
// may alias anything) is not; internal, always-inline, and the marker attribute is gone (it
// would sort before passthrough).
// CHECK-LABEL: llvm.func internal @step_body(
// CHECK-SAME: %{{[^:]*}}: !llvm.ptr, %{{[^:]*}}: !llvm.ptr {llvm.noalias}, %{{[^:]*}}: i64)
// CHECK-SAME: attributes {passthrough = ["alwaysinline"], sym_visibility = "private"} {
llvm.func @step_body(%x: !llvm.ptr, %t: !llvm.ptr, %n: i64) attributes {kiln.noalias_arguments = array<i32: 1>, sym_visibility = "private"} {
  %v = llvm.load %x : !llvm.ptr -> f32
  llvm.store %v, %t : f32, !llvm.ptr
  llvm.return
}
