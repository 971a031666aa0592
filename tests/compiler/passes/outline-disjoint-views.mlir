// RUN: kiln-opt --kiln-outline-disjoint-views %s | FileCheck %s
// Note [Disjoint temporaries] (OutlineDisjointViews.cc): a function whose temporaries are views of
// their own (kiln.disjoint_view) moves its body into a private @<f>_body that takes each view as
// an argument, with kiln.noalias_arguments = the LLVM parameter positions of the views' aligned
// pointers (a rank-1 memref is 5 parameters: allocated and aligned pointer, offset, size,
// stride; an index is 1). The entry keeps what computes the views, the call, and the dynamic
// workspace's dealloc.

memref.global "private" @kiln_workspace_0 : memref<128xi8> = uninitialized {alignment = 64 : i64}
memref.global "private" @kiln_workspace_1 : memref<524288xi8> = uninitialized {alignment = 64 : i64}

// Two disjoint views of a static workspace. The body's arguments: %x (0-4), %out (5-9), view %a
// (10-14, aligned pointer 11), the loops' lower bound (15), view %b (16-20, aligned pointer 17).
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[X:[^:]*]]: memref<4xf32>, %[[OUT:[^:]*]]: memref<4xf32>)
// CHECK-NOT: scf.for
// CHECK: %[[WS:.*]] = memref.get_global @kiln_workspace_0 : memref<128xi8>
// CHECK-NEXT: %[[A:.*]] = memref.view %[[WS]][{{.*}}] {kiln.disjoint_view}
// CHECK-NEXT: %[[B:.*]] = memref.view %[[WS]][{{.*}}] {kiln.disjoint_view}
// CHECK-NEXT: call @step_body(%[[X]], %[[OUT]], %[[A]], %{{[^,]*}}, %[[B]]) : (memref<4xf32>, memref<4xf32>, memref<4xf32>, index, memref<4xf32>) -> ()
// CHECK-NEXT: return
// CHECK: func.func private @step_body(%[[BX:[^:]*]]: memref<4xf32>, %[[BOUT:[^:]*]]: memref<4xf32>, %[[BA:[^:]*]]: memref<4xf32>, %{{[^:]*}}: index, %[[BB:[^:]*]]: memref<4xf32>)
// CHECK-SAME: attributes {kiln.noalias_arguments = array<i32: 11, 17>}
// CHECK-NOT: memref.view
// CHECK: scf.for
// CHECK: memref.load %[[BX]]
// CHECK: memref.store {{.*}}, %[[BA]][
// CHECK: scf.for
// CHECK: memref.load %[[BA]]
// CHECK: memref.store {{.*}}, %[[BB]][
// CHECK: scf.for
// CHECK: memref.store {{.*}}, %[[BOUT]][
// CHECK: return
func.func @step(%x: memref<4xf32>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %ws = memref.get_global @kiln_workspace_0 : memref<128xi8>
  %a = memref.view %ws[%c0][] {kiln.disjoint_view} : memref<128xi8> to memref<4xf32>
  %b = memref.view %ws[%c64][] {kiln.disjoint_view} : memref<128xi8> to memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %x[%i] : memref<4xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %a[%i] : memref<4xf32>
    %m = arith.mulf %v, %v : f32
    memref.store %m, %b[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %a[%i] : memref<4xf32>
    %w = memref.load %b[%i] : memref<4xf32>
    %s = arith.addf %v, %w : f32
    memref.store %s, %out[%i] : memref<4xf32>
  }
  return
}

// A dynamic workspace (Note [Dynamic workspace]): its size, allocation and the view stay in the
// entry, and its dealloc stays after the call. Body: %x (0-4), %out (5-9), view (10-14, aligned
// pointer 11), the loops' lower bound (15) and N (16).
// CHECK-LABEL: func.func @dynamic(
// CHECK: %[[N:.*]] = memref.dim
// CHECK: %[[WS:.*]] = memref.alloc(
// CHECK-NEXT: %[[A:.*]] = memref.view %[[WS]][{{.*}}][%[[N]]] {kiln.disjoint_view}
// CHECK-NEXT: call @dynamic_body(%{{[^,]*}}, %{{[^,]*}}, %[[A]], %{{[^,]*}}, %[[N]]) : (memref<?xf32>, memref<?xf32>, memref<?xf32>, index, index) -> ()
// CHECK-NEXT: memref.dealloc %[[WS]] : memref<?xi8>
// CHECK-NEXT: return
// CHECK: func.func private @dynamic_body({{.*}}) attributes {kiln.noalias_arguments = array<i32: 11>}
// CHECK-NOT: memref.dealloc
// CHECK: scf.for
// CHECK: scf.for
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @dynamic(%x: memref<?xf32>, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %bytes = arith.muli %n, %c4 : index
  %ws = memref.alloc(%bytes) {alignment = 64 : i64} : memref<?xi8>
  %a = memref.view %ws[%c0][%n] {kiln.disjoint_view} : memref<?xi8> to memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %x[%i] : memref<?xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%i] : memref<?xf32>
  }
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %a[%i] : memref<?xf32>
    %m = arith.mulf %v, %v : f32
    memref.store %m, %out[%i] : memref<?xf32>
  }
  memref.dealloc %ws : memref<?xi8>
  return
}

// Views that share bytes by lifetime (no kiln.disjoint_view): nothing to tell LLVM, the function
// stays as it is.
// CHECK-LABEL: func.func @shared(
// CHECK-NOT: call
// CHECK: scf.for
// CHECK: memref.copy
// CHECK-NEXT: return
// CHECK-NOT: @shared_body
func.func @shared(%x: memref<4xf32>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %ws = memref.get_global @kiln_workspace_1 : memref<524288xi8>
  %a = memref.view %ws[%c0][] : memref<524288xi8> to memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %x[%i] : memref<4xf32>
    %e = math.exp %v : f32
    memref.store %e, %a[%i] : memref<4xf32>
  }
  memref.copy %a, %out : memref<4xf32> to memref<4xf32>
  return
}
