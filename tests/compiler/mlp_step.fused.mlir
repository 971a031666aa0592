// Golden: the MLP training step of mlp_step.traced.mlir after linalg-fuse-elementwise-ops,
// canonicalize, cse and Kiln's sibling and epilogue fusion (the "fused" stage).
// RUN: kiln-tests --gtest_filter=CompilerGolden.MlpStepAfterFusion  (pipes the text to FileCheck %s)

// CHECK-LABEL: func.func @kiln_mlp_step
// The gradient of the mean, 1/32, is a constant.
// CHECK: arith.constant 3.125000e-02 : f32
// The contractions stay named ops (elementwise fusion does not fuse into them).
// CHECK-COUNT-2: linalg.matmul ins(
// The softmax cross-entropy and its gradient, as in softmax_ce.fused.mlir: one pass over the rows
// of the logits and the one-hot labels (the gradient's float64 label sums fused in as a sibling),
// the mean with its float32 finish at the last row, and the logits' gradient (softmax, label
// sums and the 1/32 scale), one elementwise loop nest. The gradient's softmax shares the
// forward's row max and sum of exp: one max in the whole step.
// CHECK: = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]}{{.*}}outs({{.*}} : tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32x1xf64>)
// CHECK-COUNT-1: arith.cmpf olt
// CHECK-NOT: arith.cmpf olt
// CHECK: = linalg.generic {{.*}}iterator_types = ["reduction"]}{{.*}}outs({{.*}} : tensor<f64>, tensor<f32>)
// CHECK: scf.if
// CHECK-NOT: arith.cmpf olt
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}}tensor<32x1xf64>
// CHECK: math.exp
// CHECK: arith.divf
// CHECK-NOT: arith.cmpf olt
// CHECK: linalg.matmul_transpose_b
// CHECK: linalg.matmul_transpose_a
// CHECK: linalg.matmul_transpose_a
// Adam: one loop with three results per parameter. A bias's update stays out of its gradient's
// column sum, whose reduced dim is outside the parallel one (Note [Kiln fusion]).
// CHECK-COUNT-4: = linalg.generic {{.*}}iterator_types = ["parallel"{{.*}}outs({{.*}}, {{.*}}, {{.*}} :
// CHECK-NOT: linalg.generic
// CHECK: return
