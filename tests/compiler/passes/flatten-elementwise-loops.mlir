// RUN: kiln-opt --kiln-flatten-elementwise-loops %s | FileCheck %s
// Note [Flat elementwise loops]: an elementwise loop nest over dense row-major buffers (scalars
// broadcast allowed) is one loop over all the elements, on collapsed views, so the vectorizer
// sees 400 iterations instead of 20.

// CHECK-LABEL: func.func @adam_like
// CHECK-DAG: %[[A:.*]] = memref.collapse_shape %arg0 {{\[\[}}0, 1]] : memref<20x20xf32> into memref<400xf32>
// CHECK-DAG: %[[O:.*]] = memref.collapse_shape %arg2 {{\[\[}}0, 1]] : memref<20x20xf32> into memref<400xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]} ins(%[[A]], %arg1 : memref<400xf32>, memref<f32>) outs(%[[O]] : memref<400xf32>)
func.func @adam_like(%x: memref<20x20xf32>, %lr: memref<f32>, %out: memref<20x20xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]} ins(%x, %lr : memref<20x20xf32>, memref<f32>) outs(%out : memref<20x20xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %v = arith.mulf %a, %b : f32
    linalg.yield %v : f32
  }
  return
}

// A transposed read is not elementwise over one layout: unchanged.
// CHECK-LABEL: func.func @transpose
// CHECK-NOT: memref.collapse_shape
// CHECK: iterator_types = ["parallel", "parallel"]
func.func @transpose(%x: memref<20x20xf32>, %out: memref<20x20xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]} ins(%x : memref<20x20xf32>) outs(%out : memref<20x20xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}
