// Golden: a Dense 4-16-3 training step (softmax cross-entropy, Adam) traced with input_signature
// float32[-1,4], float32[-1,3]: the "traced" stage of its one compiled code for every batch size
// (Note [Dynamic dims] in GraphToLinalgDynamic.cc).
// RUN: kiln-tests --gtest_filter=CompilerGolden.DynamicDenseStepTracesQuestionMarkDims  (pipes the text to FileCheck %s)
//
// The batch dims are `?`; the variables keep their static shapes.
// CHECK: func.func @kiln_dense_step(%arg0: tensor<?x4xf32> {bufferization.writable = false},
// CHECK-NEXT: %arg1: tensor<?x3xf32> {bufferization.writable = false},
// CHECK-NEXT: %var0: tensor<4x16xf32> {bufferization.writable = true},
// CHECK: attributes {llvm.emit_c_interface} {
// N is read once, at entry, from the first argument that has it.
// CHECK-NEXT: [[ZERO:%t[0-9]+]] = arith.constant 0 : index
// CHECK-NEXT: [[N:%t[0-9]+]] = tensor.dim %arg0, [[ZERO]] : tensor<?x4xf32>
// CHECK-NOT: tensor.dim
// reduce_mean's 1/N in double from N at run time (the test also checks that no literal
// 1/1000003 appears anywhere).
// CHECK: arith.index_cast [[N]] : index to i64
// CHECK: arith.divf {{%t[0-9]+}}, {{%t[0-9]+}} : f64
// Temporaries take N as their size.
// CHECK: tensor.empty([[N]]) : tensor<?x16xf32>
// CHECK: linalg.matmul ins(%arg0, %var0 : tensor<?x4xf32>, tensor<4x16xf32>) outs({{%t[0-9]+}} : tensor<?x16xf32>) -> tensor<?x16xf32>
// CHECK: = softmax_cross_entropy_with_logits(%arg1,
// CHECK: tensor.empty([[N]]) : tensor<?xf32>
// CHECK: = reduce_mean(
// CHECK: linalg.matmul_transpose_a
// CHECK: bufferization.materialize_in_destination {{.*}} in %var0
