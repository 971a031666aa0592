// RUN: kiln-opt --kiln-fuse-siblings-and-epilogues %s | FileCheck %s
// Note [Kiln fusion]: sibling loops over one iteration space that read a common input become one
// loop nest; a reduction's elementwise epilogue runs inside it at the last reduction iteration.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>

// A row max and a row sum of one matrix (a softmax's statistics): one generic, two results.
// CHECK-LABEL: func.func @siblings
// CHECK: %[[R:.*]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]#0, %[[R]]#1
func.func @siblings(%x: tensor<4x5xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4xf32>
  %f0 = linalg.fill ins(%ninf : f32) outs(%e0 : tensor<4xf32>) -> tensor<4xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x5xf32>) outs(%f0 : tensor<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %v = arith.maximumf %acc, %in : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %e1 = tensor.empty() : tensor<4xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4xf32>) -> tensor<4xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x5xf32>) outs(%f1 : tensor<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %v = arith.addf %acc, %in : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  return %max, %sum : tensor<4xf32>, tensor<4xf32>
}

// A row sum in float64 and its float32 finish (a mean's cast): the cast runs inside the sum's
// loop nest, under an scf.if at the last reduction iteration.
// CHECK-LABEL: func.func @epilogue
// CHECK: %[[R:.*]]:2 = linalg.generic
// CHECK: arith.addf
// CHECK: linalg.index 1
// CHECK: scf.if
// CHECK: arith.truncf
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]#1
func.func @epilogue(%x: tensor<4x5xf64>) -> tensor<4xf32> {
  %zero = arith.constant 0.0 : f64
  %e0 = tensor.empty() : tensor<4xf64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<4xf64>) -> tensor<4xf64>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x5xf64>) outs(%f0 : tensor<4xf64>) {
  ^bb0(%in: f64, %acc: f64):
    %v = arith.addf %acc, %in : f64
    linalg.yield %v : f64
  } -> tensor<4xf64>
  %e1 = tensor.empty() : tensor<4xf32>
  %mean = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]} ins(%sum : tensor<4xf64>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%in: f64, %out: f32):
    %v = arith.truncf %in : f64 to f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  return %mean : tensor<4xf32>
}
