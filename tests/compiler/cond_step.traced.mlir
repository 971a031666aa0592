// Golden: a kiln::cond and a kiln::while_loop in the "traced" stage (CondStep in
// control_flow_compile_test.cc): the cond becomes scf.if on the extracted i1 with one region per
// branch yielding tensors; the loop becomes scf.while whose before-region evaluates cond_fn and
// whose after-region runs body_fn on the loop-carried tensors.
// RUN: kiln-tests --gtest_filter=CompiledControlFlow.CondAndWhileLoopTraceToScfIfAndScfWhile  (pipes the text to FileCheck %s)

// CHECK-LABEL: func.func @kiln_cond_step(
// CHECK: %var0: tensor<3x3xf32> {bufferization.writable = false}
// CHECK: = cond(
// CHECK: %[[P:.*]] = tensor.extract %{{.*}}[] : tensor<i1>
// CHECK: = scf.if %[[P]] -> (tensor<4x3xf32>) {
// CHECK: // then
// CHECK: linalg.matmul ins(%arg0, %var0
// CHECK: scf.yield %{{.*}} : tensor<4x3xf32>
// CHECK: } else {
// CHECK: // else
// CHECK: scf.yield %{{.*}} : tensor<4x3xf32>
// CHECK: = while_loop(
// CHECK: %[[W:.*]]:2 = scf.while (%[[A:.*]] = %{{.*}}, %[[B:.*]] = %{{.*}}) : (tensor<4x3xf32>, tensor<i32>) -> (tensor<4x3xf32>, tensor<i32>) {
// CHECK: // cond
// CHECK: math.absf
// CHECK: scf.condition(%{{.*}}) %[[A]], %[[B]] : tensor<4x3xf32>, tensor<i32>
// CHECK: } do {
// CHECK: ^bb0(%{{.*}}: tensor<4x3xf32>, %{{.*}}: tensor<i32>):
// CHECK: // body
// CHECK: scf.yield %{{.*}}, %{{.*}} : tensor<4x3xf32>, tensor<i32>
// CHECK: bufferization.materialize_in_destination %[[W]]#0 in %out1
// CHECK: bufferization.materialize_in_destination %[[W]]#1 in %out2
