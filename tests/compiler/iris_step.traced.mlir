// RUN: kiln-dump --example iris --stage traced | FileCheck %s
// What the iris training step (Dense 4-20-20-3, softmax cross-entropy, Adam) traces to: the
// forward pass, its gradient, Adam's bias correction from the step variable, and one in-place
// write per variable and slot. Checked by the golden.iris_step_traced ctest entry.

// CHECK: func.func @kiln_iris_step(%arg0: tensor<16x4xf32> {bufferization.writable = false}
// CHECK-NEXT: %arg1: tensor<16x3xf32>
// CHECK-NEXT: %var0: tensor<4x20xf32> {bufferization.writable = true}
// CHECK: attributes {llvm.emit_c_interface}
// The forward pass.
// CHECK: = matmul(%arg0, %v0) : float32[16,20]
// CHECK: linalg.matmul ins(%arg0, %var0 : tensor<16x4xf32>, tensor<4x20xf32>)
// CHECK: = relu(
// CHECK: linalg.matmul ins({{.*}} : tensor<16x20xf32>, tensor<20x20xf32>)
// CHECK: linalg.matmul ins({{.*}} : tensor<16x20xf32>, tensor<20x3xf32>)
// CHECK: = softmax_cross_entropy_with_logits(%arg1,
// CHECK: = reduce_mean(
// The backward pass: transposed matmuls and relu gradients.
// CHECK: linalg.matmul_transpose_b
// CHECK: linalg.matmul_transpose_a
// CHECK: = relu_grad(
// CHECK: = relu_grad(
// CHECK: linalg.matmul_transpose_a ins(%arg0,
// Adam: the bias correction is computed from the step variable, in float64.
// CHECK: = pow({{.*}}) : float64[]
// CHECK: = sqrt({{.*}}) : float64[]
// CHECK-COUNT-6: = apply_adam(
// CHECK: = assign_add(%v6,
// Every variable and slot is written in place; the loss goes to its output buffer.
// CHECK: bufferization.materialize_in_destination {{.*}} in %out0
// CHECK-COUNT-19: bufferization.materialize_in_destination {{.*}} in %var
// CHECK: return
