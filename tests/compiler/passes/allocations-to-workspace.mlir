// RUN: kiln-opt --kiln-allocations-to-workspace %s | FileCheck %s
// Note [Workspace] and Note [Dynamic workspace] (AllocationsToWorkspace.cc): a function's temporaries
// (alloc/dealloc pairs in its entry block) become memref.view ops of one workspace at offsets
// that never overlap while two buffers are alive, and no dealloc is left for them.

// One uninitialized, 64-byte aligned global per function with static temporaries: @small's
// 2 x 64 bytes side by side, @large's three 256 KiB buffers in two slots (not three).
// CHECK-DAG: memref.global "private" @kiln_workspace_0 : memref<128xi8> = uninitialized {alignment = 64 : i64}
// CHECK-DAG: memref.global "private" @kiln_workspace_1 : memref<524288xi8> = uninitialized {alignment = 64 : i64}

// Small temporaries (Note [Disjoint temporaries]): each gets bytes of its own, two buffers alive
// at once get different offsets, the views are marked disjoint, the allocs and deallocs go.
// CHECK-LABEL: func.func @small
// CHECK-NOT: memref.alloc
// CHECK: %[[WS:.*]] = memref.get_global @kiln_workspace_0 : memref<128xi8>
// CHECK: %[[O0:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = memref.view %[[WS]][%[[O0]]][] {kiln.disjoint_view} : memref<128xi8> to memref<4x4xf32>
// CHECK: linalg.add {{.*}} outs(%[[A]] :
// CHECK: %[[O1:.*]] = arith.constant 64 : index
// CHECK: %[[B:.*]] = memref.view %[[WS]][%[[O1]]][] {kiln.disjoint_view} : memref<128xi8> to memref<4x4xf32>
// CHECK: linalg.mul ins(%[[A]], {{.*}} outs(%[[B]] :
// CHECK: linalg.add ins(%[[A]], %[[B]] :
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @small(%x: memref<4x4xf32>, %out: memref<4x4xf32>) {
  %a = memref.alloc() {alignment = 64 : i64} : memref<4x4xf32>
  linalg.add ins(%x, %x : memref<4x4xf32>, memref<4x4xf32>) outs(%a : memref<4x4xf32>)
  %b = memref.alloc() {alignment = 64 : i64} : memref<4x4xf32>
  linalg.mul ins(%a, %x : memref<4x4xf32>, memref<4x4xf32>) outs(%b : memref<4x4xf32>)
  linalg.add ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%out : memref<4x4xf32>)
  memref.dealloc %a : memref<4x4xf32>
  memref.dealloc %b : memref<4x4xf32>
  return
}

// Large temporaries share by lifetime (first fit): %a and %b are alive at once and get
// different offsets; %c, allocated after %a's last use, reuses %a's bytes at offset 0.
// CHECK-LABEL: func.func @large
// CHECK-NOT: memref.alloc
// CHECK: %[[WS:.*]] = memref.get_global @kiln_workspace_1 : memref<524288xi8>
// CHECK: %[[O0:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = memref.view %[[WS]][%[[O0]]][] : memref<524288xi8> to memref<256x256xf32>
// CHECK: %[[O1:.*]] = arith.constant 262144 : index
// CHECK: %[[B:.*]] = memref.view %[[WS]][%[[O1]]][] : memref<524288xi8> to memref<256x256xf32>
// CHECK: linalg.mul ins(%[[A]], {{.*}} outs(%[[B]] :
// CHECK: %[[O2:.*]] = arith.constant 0 : index
// CHECK: %[[C:.*]] = memref.view %[[WS]][%[[O2]]][] : memref<524288xi8> to memref<256x256xf32>
// CHECK: linalg.mul ins(%[[B]], %[[B]] {{.*}} outs(%[[C]] :
// CHECK: memref.copy %[[C]],
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @large(%x: memref<256x256xf32>, %out: memref<256x256xf32>) {
  %a = memref.alloc() {alignment = 64 : i64} : memref<256x256xf32>
  linalg.add ins(%x, %x : memref<256x256xf32>, memref<256x256xf32>) outs(%a : memref<256x256xf32>)
  %b = memref.alloc() {alignment = 64 : i64} : memref<256x256xf32>
  linalg.mul ins(%a, %x : memref<256x256xf32>, memref<256x256xf32>) outs(%b : memref<256x256xf32>)
  %c = memref.alloc() {alignment = 64 : i64} : memref<256x256xf32>
  linalg.mul ins(%b, %b : memref<256x256xf32>, memref<256x256xf32>) outs(%c : memref<256x256xf32>)
  memref.copy %c, %out : memref<256x256xf32> to memref<256x256xf32>
  memref.dealloc %a : memref<256x256xf32>
  memref.dealloc %b : memref<256x256xf32>
  memref.dealloc %c : memref<256x256xf32>
  return
}

// Temporaries [N, 4] sized by one value N (Note [Dynamic workspace]): one allocation of
// N * 128 bytes at entry, the buffers at N * 0 and N * 64, one dealloc (the workspace's) at the end.
// CHECK-LABEL: func.func @dynamic
// CHECK: %[[N:.*]] = memref.dim
// CHECK: %[[PER:.*]] = arith.constant 128 : index
// CHECK: %[[BYTES:.*]] = arith.muli %[[N]], %[[PER]] : index
// CHECK: %[[WS:.*]] = memref.alloc(%[[BYTES]]) {alignment = 64 : i64} : memref<?xi8>
// CHECK: %[[U0:.*]] = arith.constant 0 : index
// CHECK: %[[O0:.*]] = arith.muli %[[N]], %[[U0]] : index
// CHECK: %[[A:.*]] = memref.view %[[WS]][%[[O0]]][%[[N]]] {kiln.disjoint_view} : memref<?xi8> to memref<?x4xf32>
// CHECK: %[[U1:.*]] = arith.constant 64 : index
// CHECK: %[[O1:.*]] = arith.muli %[[N]], %[[U1]] : index
// CHECK: %[[B:.*]] = memref.view %[[WS]][%[[O1]]][%[[N]]] {kiln.disjoint_view} : memref<?xi8> to memref<?x4xf32>
// CHECK: linalg.add ins(%[[A]], %[[B]] :
// CHECK-NOT: memref.alloc
// CHECK: memref.dealloc %[[WS]] : memref<?xi8>
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @dynamic(%x: memref<?x4xf32>, %out: memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %a = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  linalg.add ins(%x, %x : memref<?x4xf32>, memref<?x4xf32>) outs(%a : memref<?x4xf32>)
  %b = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  linalg.mul ins(%a, %x : memref<?x4xf32>, memref<?x4xf32>) outs(%b : memref<?x4xf32>)
  linalg.add ins(%a, %b : memref<?x4xf32>, memref<?x4xf32>) outs(%out : memref<?x4xf32>)
  memref.dealloc %a : memref<?x4xf32>
  memref.dealloc %b : memref<?x4xf32>
  return
}
