// Golden: reduce_mean(softmax_cross_entropy_with_logits(labels, logits)) and its gradient with
// respect to the logits, [32,3] float32, after fusion (the "fused" stage).
// RUN: kiln-tests --gtest_filter=CompilerGolden.SoftmaxCrossEntropyForwardBackwardFuses  (pipes the text to FileCheck %s)
//
// Three loop nests, and no other linalg.generic (a CHECK-NOT between any two checks):
//  1. one pass over the rows of the logits and the labels: the online row max and sum of exp
//     (Note [Online softmax statistics] in GraphToLinalgReduce.cc), the loss's label-weighted
//     gaps and label sums, and, fused in as a sibling (Note [Kiln fusion] in FuseSiblingsAndEpilogues.cc),
//     the gradient's float64 row sums of the labels;
//  2. the mean: each row's loss (an elementwise producer, fused in by linalg-fuse-elementwise-ops)
//     summed in float64 over the rows, with the float32 result written at the last row (the
//     epilogue, Note [Kiln fusion]);
//  3. the whole gradient, softmax included, elementwise, reading the first nest's row statistics.
// Before Kiln's fusion and the online statistics it was seven: row max, row sum of exp, the loss
// rows, the float64 mean sum, its float32 finish, the label sums, the gradient.

// CHECK-LABEL: func.func @kiln_softmax_ce
// CHECK-NOT: linalg.generic
// CHECK: = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%arg1, %arg0 : tensor<32x3xf32>, tensor<32x3xf32>)
// CHECK-SAME: outs({{.*}} : tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32x1xf64>)
// CHECK-NOT: linalg.generic
// CHECK: arith.cmpf olt
// CHECK-NOT: linalg.generic
// CHECK: math.exp
// CHECK-NOT: linalg.generic
// CHECK: arith.extf {{.*}} : f32 to f64
// CHECK-NOT: linalg.generic
// CHECK: linalg.yield {{.*}} : f32, f32, f32, f32, f64
// CHECK-NOT: linalg.generic
// CHECK: = linalg.generic {{.*}}iterator_types = ["reduction"]}
// CHECK-SAME: outs({{.*}} : tensor<f64>, tensor<f32>)
// CHECK-NOT: linalg.generic
// CHECK: math.log
// CHECK-NOT: linalg.generic
// CHECK: linalg.index 0
// CHECK-NOT: linalg.generic
// CHECK: scf.if
// CHECK-NOT: linalg.generic
// CHECK: arith.truncf {{.*}} : f64 to f32
// CHECK-NOT: linalg.generic
// CHECK: = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK-NOT: linalg.generic
// CHECK: math.exp
// CHECK-NOT: linalg.generic
// CHECK: arith.divf
// CHECK-NOT: linalg.generic
// CHECK: return
