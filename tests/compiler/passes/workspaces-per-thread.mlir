// RUN: kiln-opt --kiln-workspaces-per-thread %s | FileCheck %s --implicit-check-not=kiln_workspace_
// Note [Workspace per thread] (TemporaryBufferCache.cc), on the LLVM dialect: each workspace
// global kiln_workspace_<slot> (an i8 array) is a layout only; every llvm.mlir.addressof of it
// becomes a call of kiln_thread_workspace(slot, bytes), the calling thread's buffer, declared
// 64-byte aligned as the global was, and the global goes (--implicit-check-not: neither the
// globals nor any addressof of them is left), so two threads never share temporaries.

// The runtime function, declared once, its result 64-byte aligned; other globals stay.
// CHECK: llvm.func @kiln_thread_workspace(i64, i64) -> (!llvm.ptr {llvm.align = 64 : i64})
// CHECK: llvm.mlir.global private @other()

llvm.mlir.global private @kiln_workspace_0() {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<128 x i8> {
  %0 = llvm.mlir.undef : !llvm.array<128 x i8>
  llvm.return %0 : !llvm.array<128 x i8>
}
llvm.mlir.global private @kiln_workspace_1() {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<4096 x i8> {
  %0 = llvm.mlir.undef : !llvm.array<4096 x i8>
  llvm.return %0 : !llvm.array<4096 x i8>
}
llvm.mlir.global private @other() {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<16 x i8> {
  %0 = llvm.mlir.undef : !llvm.array<16 x i8>
  llvm.return %0 : !llvm.array<16 x i8>
}

// Slot 0 of 128 bytes: the thread's buffer replaces the global's address where it is used.
// CHECK-LABEL: llvm.func @first(
// CHECK: %[[SLOT:.*]] = llvm.mlir.constant(0 : i64) : i64
// CHECK: %[[BYTES:.*]] = llvm.mlir.constant(128 : i64) : i64
// CHECK: %[[P:.*]] = llvm.call @kiln_thread_workspace(%[[SLOT]], %[[BYTES]]) : (i64, i64) -> !llvm.ptr
// CHECK: llvm.getelementptr %[[P]][0, 64]
llvm.func @first(%x: f32) {
  %p = llvm.mlir.addressof @kiln_workspace_0 : !llvm.ptr
  %q = llvm.getelementptr %p[0, 64] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<128 x i8>
  llvm.store %x, %q : f32, !llvm.ptr
  llvm.return
}

// Slot 1 of 4096 bytes (the slot is the global's number); an ordinary global's address stays.
// CHECK-LABEL: llvm.func @second(
// CHECK: %[[SLOT:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK: %[[BYTES:.*]] = llvm.mlir.constant(4096 : i64) : i64
// CHECK: %[[P:.*]] = llvm.call @kiln_thread_workspace(%[[SLOT]], %[[BYTES]]) : (i64, i64) -> !llvm.ptr
// CHECK: llvm.store %{{.*}}, %[[P]] : f32, !llvm.ptr
// CHECK: llvm.mlir.addressof @other : !llvm.ptr
llvm.func @second(%x: f32) {
  %p = llvm.mlir.addressof @kiln_workspace_1 : !llvm.ptr
  llvm.store %x, %p : f32, !llvm.ptr
  %o = llvm.mlir.addressof @other : !llvm.ptr
  llvm.store %x, %o : f32, !llvm.ptr
  llvm.return
}
