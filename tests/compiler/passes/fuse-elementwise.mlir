// RUN: kiln-opt --kiln-fuse-elementwise %s | FileCheck %s
// Elementwise fusion with Kiln's rules: elementwise chains fuse, contractions stay named (Note
// [Contractions stay named]) and a rank-0 reduction stays apart from a consumer that broadcasts
// it (Note [Fusion keeps a reduction's meaning]).

#id = affine_map<(d0, d1) -> (d0, d1)>
#bcast = affine_map<(d0, d1) -> ()>
#scalar = affine_map<() -> ()>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// Two elementwise loops become one: exp then negate in one body.
// CHECK-LABEL: func.func @chain
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK-NEXT: arith.negf
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @chain(%x: tensor<4x5xf32>) -> tensor<4x5xf32> {
  %e = tensor.empty() : tensor<4x5xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x5xf32>) outs(%e : tensor<4x5xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.exp %in : f32
    linalg.yield %v : f32
  } -> tensor<4x5xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x5xf32>) outs(%e : tensor<4x5xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.negf %in : f32
    linalg.yield %v : f32
  } -> tensor<4x5xf32>
  return %b : tensor<4x5xf32>
}

// A matmul's result reshaped (a Flatten's gradient) and read elementwise: the reshape is not
// folded into the matmul by expanding its loops, which would turn it into a linalg.generic that
// no library call recognizes; it stays linalg.matmul.
// CHECK-LABEL: func.func @matmul_reshape
// CHECK: linalg.matmul
// CHECK: tensor.expand_shape
func.func @matmul_reshape(%a: tensor<4x3xf32>, %b: tensor<3x6xf32>) -> tensor<4x2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x6xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x6xf32>) -> tensor<4x6xf32>
  %m = linalg.matmul ins(%a, %b : tensor<4x3xf32>, tensor<3x6xf32>) outs(%f : tensor<4x6xf32>) -> tensor<4x6xf32>
  %x = tensor.expand_shape %m [[0], [1, 2]] output_shape [4, 2, 3] : tensor<4x6xf32> into tensor<4x2x3xf32>
  %e3 = tensor.empty() : tensor<4x2x3xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : tensor<4x2x3xf32>) outs(%e3 : tensor<4x2x3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.maximumf %in, %zero : f32
    linalg.yield %v : f32
  } -> tensor<4x2x3xf32>
  return %r : tensor<4x2x3xf32>
}

// add(x, reduce_sum(y)) with y rank 0: the sum (a body that reads its init) is not fused into the
// broadcasting add, which would carry its accumulator from one element of x to the next.
// CHECK-LABEL: func.func @rank0_sum_broadcast
// CHECK: %[[S:.*]] = linalg.generic {{.*}}iterator_types = []
// CHECK: linalg.generic {{.*}}ins(%arg0, %[[S]] :
func.func @rank0_sum_broadcast(%x: tensor<2x3xf32>, %y: tensor<f32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<f32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<f32>) -> tensor<f32>
  %s = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []} ins(%y : tensor<f32>) outs(%f0 : tensor<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %v = arith.addf %acc, %in : f32
    linalg.yield %v : f32
  } -> tensor<f32>
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id, #bcast, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<2x3xf32>, tensor<f32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %v = arith.addf %a, %b : f32
    linalg.yield %v : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
