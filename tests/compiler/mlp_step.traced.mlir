// Golden: what a small MLP training step traces to (the "traced" stage, before any pass):
// Dense 4->10 relu, Dense 10->3, mean softmax cross-entropy, GradientTape, apply_adam per
// parameter, batch 32 (Mlp in compiled_graph_test.cc).
// RUN: kiln-tests --gtest_filter=CompilerGolden.MlpStepTracesToLinalg  (pipes the text to FileCheck %s)

// Tensor arguments, then the captured variables (written ones writable), then the loss buffer.
// CHECK-LABEL: func.func @kiln_mlp_step(
// CHECK-SAME: %arg0: tensor<32x4xf32> {bufferization.writable = false}
// CHECK-NEXT: %arg1: tensor<32xi32> {bufferization.writable = false}
// CHECK-NEXT: %var0: tensor<4x10xf32> {bufferization.writable = true}
// CHECK: %out0: tensor<f32> {bufferization.writable = true}
// CHECK-SAME: attributes {llvm.emit_c_interface}

// Forward: matmul, broadcast bias add (bias read through a (d1) map), relu.
// CHECK: linalg.matmul ins(%arg0, %var0 : tensor<32x4xf32>, tensor<4x10xf32>)
// CHECK: linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>]
// CHECK: arith.addf
// CHECK: arith.cmpf ogt
// CHECK: linalg.matmul ins({{.*}}, %var2 : tensor<32x10xf32>, tensor<10x3xf32>)
// CHECK: // %{{[0-9]+}} = one_hot(%arg1)
// Softmax cross-entropy: one pass over the rows (online max and sum of exp, label-weighted gaps,
// label sums), then each row's loss from those four.
// CHECK: // %{{[0-9]+}} = softmax_cross_entropy_with_logits
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.cmpf olt
// CHECK: math.exp
// CHECK: linalg.yield {{.*}} : f32, f32, f32, f32
// CHECK-NOT: reduction
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK: math.log
// The mean accumulates float32 in float64, as the eager kernel.
// CHECK: // %{{[0-9]+}} = reduce_mean
// CHECK: arith.extf {{.*}} : f32 to f64
// CHECK: arith.truncf {{.*}} : f64 to f32
// The gradient of the mean is a constant (1/32 = 0x3D000000), folded, not a loop.
// CHECK: (a splat of 0x3D000000, inlined where read)
// The gradient's softmax reuses the forward's row statistics: no reduction of its own.
// CHECK: // %{{[0-9]+}} = softmax(
// CHECK-NOT: reduction
// CHECK: // %{{[0-9]+}} = mul(
// Backward: the transposed contractions.
// CHECK: linalg.matmul_transpose_b
// CHECK: linalg.matmul_transpose_a
// CHECK: // %{{[0-9]+}} = relu_grad
// CHECK: linalg.matmul_transpose_a ins(%arg0,
// Adam: one loop per parameter updating var, m and v together.
// CHECK-COUNT-4: = apply_adam(
// Writes: the loss into its buffer, then every variable in place.
// CHECK: bufferization.materialize_in_destination {{.*}} in %out0
// CHECK: bufferization.materialize_in_destination {{.*}} in %var0
// CHECK: bufferization.materialize_in_destination {{.*}} in %var11
// CHECK-NEXT: return
