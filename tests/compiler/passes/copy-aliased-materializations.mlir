// RUN: kiln-opt --kiln-copy-aliased-materializations %s | FileCheck %s
// Note [Materializations that alias]: each value that would reach two destinations gets a copy.

// One value into two outputs: the second materialization takes a copy, made before the first.
// CHECK-LABEL: func.func @twice
// CHECK: %[[V:.*]] = linalg.generic
// CHECK: %[[E:.*]] = tensor.empty() : tensor<4xf32>
// CHECK: %[[C:.*]] = linalg.copy ins(%[[V]] : tensor<4xf32>) outs(%[[E]] : tensor<4xf32>)
// CHECK: bufferization.materialize_in_destination %[[V]] in %arg1
// CHECK: bufferization.materialize_in_destination %[[C]] in %arg2
#id = affine_map<(d0) -> (d0)>
func.func @twice(%x: tensor<4xf32>, %o1: tensor<4xf32> {bufferization.writable = true},
                 %o2: tensor<4xf32> {bufferization.writable = true}) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %v = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %r1 = bufferization.materialize_in_destination %v in %o1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r2 = bufferization.materialize_in_destination %v in %o2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r1, %r2 : tensor<4xf32>, tensor<4xf32>
}

// A written variable's old value (dynamic size) materialized elsewhere: copied at function entry.
// CHECK-LABEL: func.func @old_value
// CHECK-NEXT: %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[D:.*]] = tensor.dim %arg0, %[[C0]]
// CHECK-NEXT: %[[E:.*]] = tensor.empty(%[[D]]) : tensor<?xf32>
// CHECK-NEXT: %[[C:.*]] = linalg.copy ins(%arg0 : tensor<?xf32>) outs(%[[E]] : tensor<?xf32>)
// CHECK: bufferization.materialize_in_destination %{{.*}} in %arg0
// CHECK: bufferization.materialize_in_destination %[[C]] in %arg1
func.func @old_value(%w: tensor<?xf32> {bufferization.writable = true}, %s: tensor<?xf32> {bufferization.writable = true})
    -> (tensor<?xf32>, tensor<?xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %w, %c0 : tensor<?xf32>
  %e = tensor.empty(%n) : tensor<?xf32>
  %v = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%w : tensor<?xf32>) outs(%e : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %h = arith.mulf %in, %in : f32
    linalg.yield %h : f32
  } -> tensor<?xf32>
  %r1 = bufferization.materialize_in_destination %v in %w : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  %r2 = bufferization.materialize_in_destination %w in %s : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  return %r1, %r2 : tensor<?xf32>, tensor<?xf32>
}

// A branch passing through an outer value that is also an output: that branch yields a copy;
// the branch that computes its own value is left alone.
// CHECK-LABEL: func.func @pass_through
// CHECK: scf.if
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<f32>
// CHECK-NEXT: %[[C:.*]] = linalg.copy ins(%arg0 : tensor<f32>) outs(%[[E]] : tensor<f32>)
// CHECK-NEXT: scf.yield %[[C]]
// CHECK-NEXT: } else {
// CHECK-NOT: linalg.copy
// CHECK: %[[T:.*]] = linalg.generic
// CHECK-NOT: linalg.copy
// CHECK: scf.yield %[[T]]
#s = affine_map<() -> ()>
func.func @pass_through(%x: tensor<f32>, %p: i1, %o1: tensor<f32> {bufferization.writable = true},
                        %o2: tensor<f32> {bufferization.writable = true}) -> (tensor<f32>, tensor<f32>) {
  %r = scf.if %p -> (tensor<f32>) {
    scf.yield %x : tensor<f32>
  } else {
    %e = tensor.empty() : tensor<f32>
    %t = linalg.generic {indexing_maps = [#s, #s], iterator_types = []} ins(%x : tensor<f32>) outs(%e : tensor<f32>) {
    ^bb0(%in: f32, %out: f32):
      %h = math.tanh %in : f32
      linalg.yield %h : f32
    } -> tensor<f32>
    scf.yield %t : tensor<f32>
  }
  %r1 = bufferization.materialize_in_destination %r in %o1 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %r2 = bufferization.materialize_in_destination %x in %o2 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %r1, %r2 : tensor<f32>, tensor<f32>
}

// After cse a branch yields one value for two results that reach two destinations: the first
// result yields a copy, the second the value.
// CHECK-LABEL: func.func @one_value_two_results
// CHECK: scf.if
// CHECK: %[[V:.*]] = linalg.fill
// CHECK: %[[C:.*]] = linalg.copy ins(%[[V]] : tensor<f32>)
// CHECK: scf.yield %[[C]], %[[V]]
// CHECK: } else {
// CHECK: %[[W:.*]] = linalg.fill
// CHECK: %[[D:.*]] = linalg.copy ins(%[[W]] : tensor<f32>)
// CHECK: scf.yield %[[D]], %[[W]]
func.func @one_value_two_results(%p: i1, %o1: tensor<f32> {bufferization.writable = true},
                                 %o2: tensor<f32> {bufferization.writable = true}) -> (tensor<f32>, tensor<f32>) {
  %zero = arith.constant 0.0 : f32
  %r:2 = scf.if %p -> (tensor<f32>, tensor<f32>) {
    %e = tensor.empty() : tensor<f32>
    %v = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
    scf.yield %v, %v : tensor<f32>, tensor<f32>
  } else {
    %e = tensor.empty() : tensor<f32>
    %v = linalg.fill ins(%zero : f32) outs(%e : tensor<f32>) -> tensor<f32>
    scf.yield %v, %v : tensor<f32>, tensor<f32>
  }
  %r1 = bufferization.materialize_in_destination %r#0 in %o1 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %r2 = bufferization.materialize_in_destination %r#1 in %o2 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %r1, %r2 : tensor<f32>, tensor<f32>
}

// A select of two tensors (a cond that canonicalize folded) whose operand is also an output: that
// operand is copied for the select; an argument nothing writes is not.
// CHECK-LABEL: func.func @select_of_an_output
// CHECK: %[[V:.*]] = linalg.generic
// CHECK: %[[C:.*]] = linalg.copy ins(%[[V]] : tensor<4xf32>)
// CHECK-NOT: linalg.copy
// CHECK: arith.select %arg1, %[[C]], %arg0 : tensor<4xf32>
func.func @select_of_an_output(%x: tensor<4xf32>, %p: i1, %o1: tensor<4xf32> {bufferization.writable = true},
                               %o2: tensor<4xf32> {bufferization.writable = true}) -> (tensor<4xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %v = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %s = arith.select %p, %v, %x : tensor<4xf32>
  %r1 = bufferization.materialize_in_destination %s in %o1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r2 = bufferization.materialize_in_destination %v in %o2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %r1, %r2 : tensor<4xf32>, tensor<4xf32>
}
