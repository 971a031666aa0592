// RUN: kiln-opt --kiln-strided-copies-to-loops %s | FileCheck %s
// A memref.copy into a strided view (a concat's middle) would call MLIR's C runner utils, which
// Kiln does not load: it becomes linalg.copy (loops). A contiguous copy stays (an LLVM memcpy).

// CHECK-LABEL: func.func @into_a_column
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%arg0 : memref<4x2xf32>) outs(%{{.*}} : memref<4x2xf32, strided<[5, 1], offset: 1>>)
func.func @into_a_column(%x: memref<4x2xf32>, %out: memref<4x5xf32>) {
  %v = memref.subview %out[0, 1] [4, 2] [1, 1] : memref<4x5xf32> to memref<4x2xf32, strided<[5, 1], offset: 1>>
  memref.copy %x, %v : memref<4x2xf32> to memref<4x2xf32, strided<[5, 1], offset: 1>>
  return
}

// CHECK-LABEL: func.func @contiguous
// CHECK: memref.copy %arg0, %arg1
// CHECK-NOT: linalg.copy
func.func @contiguous(%x: memref<4x2xf32>, %out: memref<4x2xf32>) {
  memref.copy %x, %out : memref<4x2xf32> to memref<4x2xf32>
  return
}
