// RUN: kiln-opt --kiln-unroll-tiny-inner-loops %s | FileCheck %s
// Note [Tiny inner loops]: a row sum over 3 classes accumulates through memory in a 3-trip inner
// loop; unrolled in full, the row loop becomes innermost and vectorizes. An inner loop of many
// trips, or one that does not accumulate, stays a loop.

// CHECK-LABEL: func.func @row_sum_of_3
// CHECK: scf.for %[[I:.*]] = %c0 to %c16 step %c1 {
// CHECK-NOT: scf.for
// CHECK-COUNT-3: arith.addf
// CHECK: }
func.func @row_sum_of_3(%x: memref<16x3xf32>, %out: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c16 step %c1 {
    scf.for %j = %c0 to %c3 step %c1 {
      %a = memref.load %x[%i, %j] : memref<16x3xf32>
      %s = memref.load %out[%i] : memref<16xf32>
      %v = arith.addf %s, %a : f32
      memref.store %v, %out[%i] : memref<16xf32>
    }
  }
  return
}

// CHECK-LABEL: func.func @row_sum_of_20
// CHECK: scf.for
// CHECK: scf.for
func.func @row_sum_of_20(%x: memref<16x20xf32>, %out: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c20 = arith.constant 20 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c16 step %c1 {
    scf.for %j = %c0 to %c20 step %c1 {
      %a = memref.load %x[%i, %j] : memref<16x20xf32>
      %s = memref.load %out[%i] : memref<16xf32>
      %v = arith.addf %s, %a : f32
      memref.store %v, %out[%i] : memref<16xf32>
    }
  }
  return
}

// An elementwise 3-trip inner loop (each store moves with both loops): not unrolled.
// CHECK-LABEL: func.func @elementwise_3
// CHECK: scf.for
// CHECK: scf.for
func.func @elementwise_3(%x: memref<16x3xf32>, %out: memref<16x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c16 step %c1 {
    scf.for %j = %c0 to %c3 step %c1 {
      %a = memref.load %x[%i, %j] : memref<16x3xf32>
      %v = arith.negf %a : f32
      memref.store %v, %out[%i, %j] : memref<16x3xf32>
    }
  }
  return
}
