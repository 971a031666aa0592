// Golden: reduce_mean(softmax_cross_entropy_with_logits(labels, logits)) and its gradient with
// respect to the logits, [32,3] float32, after fusion (the "fused" stage).
// RUN: kiln-tests --gtest_filter=CompilerGolden.SoftmaxCrossEntropyForwardBackwardFuses  (pipes the text to FileCheck %s)
//
// Seven loop nests, five of them over [32,3]: the forward needs three passes that depend on each
// other to keep eager's numerics (row max; row sum of exp(x - max); the loss, summed in column
// order), the mean two (a float64 sum, then the float32 result), and the gradient the row sums
// of the labels and one elementwise pass. The gradient's softmax reuses the forward's row max
// and sum (cse), and every elementwise op of the gradient is fused into one nest. (Reaching
// three nests would need sibling fusion of the label sums into the row max pass and a fused
// reduction+elementwise pass, or an online softmax that changes rounding.)

// CHECK-LABEL: func.func @kiln_softmax_ce
// Row max of the logits (%arg1).
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%arg1 : tensor<32x3xf32>)
// CHECK: arith.cmpf olt
// Row sum of exp(x - max).
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]}
// CHECK: math.exp
// The per-row loss: -sum(labels * (x - log(sum) - max)).
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]}
// CHECK: math.log
// The mean: a float64 sum over rows, then the float32 scalar.
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction"]}
// CHECK: linalg.generic {{.*}}iterator_types = []}
// Row sums of the labels (%arg0), in float64 (reduce_sum's accumulator).
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<32x3xf32>)
// The whole gradient, softmax included: one elementwise nest.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK: math.exp
// CHECK: arith.divf
// CHECK-NOT: linalg.generic
// CHECK: return
