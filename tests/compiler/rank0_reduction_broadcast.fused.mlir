// Golden: add(x, reduce_sum(y)), x float32[2,3], y float32[] (a rank-0 tensor), after fusion.
// RUN: kiln-tests --gtest_filter=CompilerGolden.RankZeroReductionStaysApartFromItsBroadcastConsumer  (pipes the text to FileCheck %s)
//
// The sum of y is a generic with no loops whose body reads its init (the float64 accumulator);
// its float32 finish fuses into it, but the sum does not fuse into the add, which reads it
// through the broadcast map (d0, d1) -> () (Note [Fusion keeps a reduction's meaning] in
// passes/FuseElementwise.cc). Fused there, the accumulator was carried from one element of x to the next.

// CHECK-LABEL: func.func @kiln_sum_bcast
// CHECK: %[[SUM:[0-9]+]]:2 = linalg.generic {{.*}}iterator_types = []} ins(%arg1 : tensor<f32>) outs({{.*}} : tensor<f64>, tensor<f32>)
// CHECK: arith.addf {{.*}} : f64
// CHECK: arith.truncf
// CHECK-NOT: linalg.generic
// CHECK: = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]} ins(%arg0, %[[SUM]]#1 : tensor<2x3xf32>, tensor<f32>) outs({{.*}} : tensor<2x3xf32>)
// CHECK-NOT: f64
// CHECK: return
