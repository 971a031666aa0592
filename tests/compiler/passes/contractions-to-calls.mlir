// RUN: kiln-opt --kiln-contractions-to-calls %s | FileCheck %s
// RUN: kiln-opt --kiln-contractions-to-calls=library-gemm=false %s | FileCheck %s --check-prefix=LOOPS
// Contractions on buffers as calls of Kiln's kernels (ContractionsToCalls.cc): Note [Zero-filled
// GEMM output] (the fill goes, accumulate = 0), Note [Contraction epilogues] (a bias add + relu
// reader folds into kiln_gemm_bias_<t>), integer matmuls, and library-gemm=false (loops stay).

// The kernels are declared once each, private, at the top of the module, with the C interface
// the JIT links against.
// CHECK-DAG: func.func private @kiln_gemm_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @kiln_gemm_bias_f32(memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x?xf32, strided<[?, ?], offset: ?>>, i64, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @kiln_gemm_i32(

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>

// A matmul into a fresh buffer zero-filled just before it: kiln_gemm_f32 with accumulate = 0
// (BLAS beta = 0) and no fill, so C is not written twice.
// CHECK-LABEL: func.func @zero_filled
// CHECK-SAME: (%[[A:.*]]: memref<4x8xf32>, %[[B:.*]]: memref<8x5xf32>, %[[OUT:.*]]: memref<4x5xf32>)
// CHECK-NOT: linalg.fill
// CHECK: %[[T:.*]] = memref.alloc() {{.*}} : memref<4x5xf32>
// CHECK-NOT: linalg.fill
// CHECK-DAG: %[[CA:.*]] = memref.cast %[[A]] : memref<4x8xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK-DAG: %[[CB:.*]] = memref.cast %[[B]] : memref<8x5xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK-DAG: %[[CT:.*]] = memref.cast %[[T]] : memref<4x5xf32> to memref<?x?xf32, strided<[?, ?], offset: ?>>
// CHECK: %[[TA:.*]] = arith.constant 0 : i64
// CHECK: %[[TB:.*]] = arith.constant 0 : i64
// CHECK: %[[ACC:.*]] = arith.constant 0 : i64
// CHECK: call @kiln_gemm_f32(%[[CA]], %[[CB]], %[[CT]], %[[TA]], %[[TB]], %[[ACC]])
// CHECK-NOT: linalg.matmul
// CHECK: memref.copy %[[T]], %[[OUT]]
// CHECK: return
// LOOPS-LABEL: func.func @zero_filled
// LOOPS: linalg.fill
// LOOPS: linalg.matmul
// LOOPS-NOT: call @kiln_gemm
// LOOPS: return
func.func @zero_filled(%a: memref<4x8xf32>, %b: memref<8x5xf32>, %out: memref<4x5xf32>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloc() {alignment = 64 : i64} : memref<4x5xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<4x5xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x5xf32>) outs(%t : memref<4x5xf32>)
  memref.copy %t, %out : memref<4x5xf32> to memref<4x5xf32>
  memref.dealloc %t : memref<4x5xf32>
  return
}

// A transposed matmul accumulating into a buffer it did not zero (an argument): the call keeps
// accumulate = 1 and says which operand is transposed.
// CHECK-LABEL: func.func @accumulating
// CHECK: %[[TA:.*]] = arith.constant 0 : i64
// CHECK: %[[TB:.*]] = arith.constant 1 : i64
// CHECK: %[[ACC:.*]] = arith.constant 1 : i64
// CHECK: call @kiln_gemm_f32(%{{.*}}, %{{.*}}, %{{.*}}, %[[TA]], %[[TB]], %[[ACC]])
// CHECK-NOT: linalg.matmul
// CHECK: return
func.func @accumulating(%a: memref<4x8xf32>, %b: memref<5x8xf32>, %c: memref<4x5xf32>) {
  linalg.matmul_transpose_b ins(%a, %b : memref<4x8xf32>, memref<5x8xf32>) outs(%c : memref<4x5xf32>)
  return
}

// A Dense layer's matmul whose only reader is bias add + relu: one call of kiln_gemm_bias_f32
// writing the generic's output (relu = 1); the temporary, its fill, the matmul and the generic go.
// CHECK-LABEL: func.func @bias_relu
// CHECK-SAME: (%[[A:.*]]: memref<4x8xf32>, %[[B:.*]]: memref<8x5xf32>, %[[BIAS:.*]]: memref<5xf32>, %[[OUT:.*]]: memref<4x5xf32>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.
// CHECK-DAG: %[[CA:.*]] = memref.cast %[[A]] :
// CHECK-DAG: %[[CB:.*]] = memref.cast %[[B]] :
// CHECK-DAG: %[[CBIAS:.*]] = memref.cast %[[BIAS]] : memref<5xf32> to memref<?xf32, strided<[?], offset: ?>>
// CHECK-DAG: %[[COUT:.*]] = memref.cast %[[OUT]] :
// CHECK: %[[TA:.*]] = arith.constant 0 : i64
// CHECK: %[[TB:.*]] = arith.constant 0 : i64
// CHECK: %[[RELU:.*]] = arith.constant 1 : i64
// CHECK: call @kiln_gemm_bias_f32(%[[CA]], %[[CB]], %[[CBIAS]], %[[COUT]], %[[TA]], %[[TB]], %[[RELU]])
// CHECK-NOT: linalg.
// CHECK-NOT: memref.dealloc
// CHECK: return
// LOOPS-LABEL: func.func @bias_relu
// LOOPS: linalg.matmul
// LOOPS: linalg.generic
// LOOPS-NOT: call @kiln_gemm
// LOOPS: return
func.func @bias_relu(%a: memref<4x8xf32>, %b: memref<8x5xf32>, %bias: memref<5xf32>, %out: memref<4x5xf32>) {
  %zero = arith.constant 0.0 : f32
  %t = memref.alloc() {alignment = 64 : i64} : memref<4x5xf32>
  linalg.fill ins(%zero : f32) outs(%t : memref<4x5xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x5xf32>) outs(%t : memref<4x5xf32>)
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%t, %bias : memref<4x5xf32>, memref<5xf32>) outs(%out : memref<4x5xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %p = arith.cmpf ogt, %s, %zero : f32
    %r = arith.select %p, %s, %zero : f32
    linalg.yield %r : f32
  }
  memref.dealloc %t : memref<4x5xf32>
  return
}

// An int32 matmul after a zero fill: the integer GEMM (kiln_gemm_i32), accumulate = 0, no fill.
// CHECK-LABEL: func.func @int32
// CHECK-NOT: linalg.fill
// CHECK: %[[TA:.*]] = arith.constant 0 : i64
// CHECK: %[[TB:.*]] = arith.constant 0 : i64
// CHECK: %[[ACC:.*]] = arith.constant 0 : i64
// CHECK: call @kiln_gemm_i32(%{{.*}}, %{{.*}}, %{{.*}}, %[[TA]], %[[TB]], %[[ACC]]) : (memref<?x?xi32, strided<[?, ?], offset: ?>>,
// CHECK-NOT: linalg.
// CHECK: return
func.func @int32(%a: memref<4x8xi32>, %b: memref<8x5xi32>, %out: memref<4x5xi32>) {
  %zero = arith.constant 0 : i32
  %t = memref.alloc() {alignment = 64 : i64} : memref<4x5xi32>
  linalg.fill ins(%zero : i32) outs(%t : memref<4x5xi32>)
  linalg.matmul ins(%a, %b : memref<4x8xi32>, memref<8x5xi32>) outs(%t : memref<4x5xi32>)
  memref.copy %t, %out : memref<4x5xi32> to memref<4x5xi32>
  memref.dealloc %t : memref<4x5xi32>
  return
}

