// Golden: the MLP training step of mlp_step.traced.mlir after linalg-fuse-elementwise-ops,
// canonicalize and cse (the "fused" stage).
// RUN: kiln-tests --gtest_filter=CompilerGolden.MlpStepAfterFusion  (pipes the text to FileCheck %s)

// CHECK-LABEL: func.func @kiln_mlp_step
// The gradient of the mean, 1/32, is a constant.
// CHECK: arith.constant 3.125000e-02 : f32
// The contractions stay named ops (elementwise fusion does not fuse into them).
// CHECK-COUNT-2: linalg.matmul ins(
// The gradient's softmax shares the forward's row max and row sum of exp (cse): each once.
// CHECK-COUNT-1: arith.cmpf olt
// CHECK-NOT: arith.cmpf olt
// Softmax, the label sums, one_hot and the 1/32 scale become one elementwise loop nest: the
// logits' gradient.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}}tensor<32x1xf64>
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: linalg.matmul_transpose_b
// CHECK: linalg.matmul_transpose_a
// CHECK: linalg.matmul_transpose_a
// Adam: four loops with three results each.
// CHECK-COUNT-4: = linalg.generic {{.*}}outs({{.*}}, {{.*}}, {{.*}} :
// CHECK-NOT: linalg.generic
// CHECK: return
