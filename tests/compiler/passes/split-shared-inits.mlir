// RUN: kiln-opt --kiln-split-shared-inits %s | FileCheck %s
// After CSE, one tensor.empty or one linalg.fill can initialize several loops; each use gets an op
// of its own again, so that empty-tensor elimination and bufferization give each loop its own
// destination instead of one shared buffer (or a copy per extra output).

#id = affine_map<(d0) -> (d0)>
#row = affine_map<(d0, d1) -> (d0)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func.func @shared_empty
// CHECK-COUNT-2: tensor.empty() : tensor<4xf32>
// CHECK: linalg.generic {{.*}} outs(%[[A:[0-9]+]] : tensor<4xf32>)
// CHECK: math.exp
// CHECK-NOT: outs(%[[A]] :
// CHECK: arith.negf
func.func @shared_empty(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = math.exp %in : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %v = arith.negf %in : f32
    linalg.yield %v : f32
  } -> tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}

// One zero fill initializing both results of a multi-result reduction: a fill per init.
// CHECK-LABEL: func.func @shared_fill
// CHECK: %[[A:.*]] = linalg.fill
// CHECK: %[[B:.*]] = linalg.fill
// CHECK: linalg.generic {{.*}} outs(%[[B]], %[[A]] : tensor<4xf32>, tensor<4xf32>)
func.func @shared_fill(%x: tensor<4x5xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %r:2 = linalg.generic {indexing_maps = [#id2, #row, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<4x5xf32>) outs(%f, %f : tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%in: f32, %s: f32, %q: f32):
    %v = arith.addf %s, %in : f32
    %w = arith.mulf %in, %in : f32
    %u = arith.addf %q, %w : f32
    linalg.yield %v, %u : f32, f32
  } -> (tensor<4xf32>, tensor<4xf32>)
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xf32>
}

// A fill that is both read (an output) and a loop's initial value, which the loop updates in
// place: the loop gets a fill of its own.
// CHECK-LABEL: func.func @fill_read_and_loop_init
// CHECK: %[[READ:.*]] = linalg.fill
// CHECK: %[[OWN:.*]] = linalg.fill
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[OWN]])
// CHECK: return %{{.*}}, %[[READ]]
func.func @fill_read_and_loop_init(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %e = tensor.empty() : tensor<4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %f) -> (tensor<4xf32>) {
    %v = tensor.extract %x[%i] : tensor<4xf32>
    %u = tensor.insert %v into %acc[%i] : tensor<4xf32>
    scf.yield %u : tensor<4xf32>
  }
  return %r, %f : tensor<4xf32>, tensor<4xf32>
}
