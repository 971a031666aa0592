// RUN: kiln-opt --kiln-cpu-pipeline %s | FileCheck %s --check-prefix=LOWERED \
// RUN:   --implicit-check-not='{{(linalg|memref|tensor|bufferization|scf|cf|func|arith|math|affine)\.}}' \
// RUN:   --implicit-check-not=_mlir_memref_to_llvm_alloc --implicit-check-not=@expf --implicit-check-not=@logf
// RUN: kiln-opt --pass-pipeline='builtin.module(kiln-fuse-elementwise, func.func(canonicalize, cse), kiln-fuse-siblings-and-epilogues)' %s \
// RUN:   | FileCheck %s --check-prefix=FUSED
// Kiln's whole CPU pipeline (Note [Compiler pipeline] in CpuPipeline.cc) on a traced function:
// reduce_mean(softmax_cross_entropy_with_logits(labels, logits)) and its gradient with respect
// to the logits, [32,3] float32 (CompilerGolden.SoftmaxCrossEntropyForwardBackwardFuses in
// tests/compiler/compiled_graph_test.cc, its "traced" stage as KILN_DUMP_IR writes it).

// The front half alone keeps the kernel count of softmax_ce.fused.mlir: the 8 traced
// linalg.generic ops become 3 loop nests (the row statistics with the label sums fused in as a
// sibling; the float64 mean with its float32 epilogue; the whole gradient, elementwise).
// FUSED-LABEL: func.func @kiln_softmax_ce(
// FUSED-NOT: linalg.generic
// FUSED: = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%arg1, %arg0 : tensor<32x3xf32>, tensor<32x3xf32>)
// FUSED-NOT: linalg.generic
// FUSED: = linalg.generic {{.*}}iterator_types = ["reduction"]}
// FUSED-NOT: linalg.generic
// FUSED: = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]}
// FUSED-NOT: linalg.generic
// FUSED: return

// The whole pipeline ends in the LLVM dialect only (the implicit checks: no op of another
// dialect is left, no temporary is malloc'ed per call, exp and log are polynomials, not libm
// calls): the entry function takes its temporaries from the thread's workspace (Note
// [Workspace per thread]) and calls its outlined body (Note [Disjoint temporaries]); the C
// interface takes the four buffers (two inputs, two outputs written in place) and returns nothing.
// LOWERED: llvm.func @kiln_thread_workspace(i64, i64) -> (!llvm.ptr {llvm.align = 64 : i64})
// LOWERED-LABEL: llvm.func @kiln_softmax_ce(
// LOWERED-SAME: attributes {llvm.emit_c_interface} {
// LOWERED: llvm.call @kiln_thread_workspace(
// LOWERED: llvm.call @kiln_softmax_ce_body(
// LOWERED-NEXT: llvm.return
// LOWERED-LABEL: llvm.func @_mlir_ciface_kiln_softmax_ce(%{{[^:]*}}: !llvm.ptr, %{{[^:]*}}: !llvm.ptr, %{{[^:]*}}: !llvm.ptr, %{{[^:]*}}: !llvm.ptr) attributes {llvm.emit_c_interface} {
// LOWERED: llvm.call @kiln_softmax_ce(
// LOWERED-LABEL: llvm.func internal @kiln_softmax_ce_body(
// LOWERED-SAME: !llvm.ptr {llvm.noalias}
// LOWERED-SAME: attributes {passthrough = ["alwaysinline"]
// LOWERED: llvm.return

// kiln::function 'softmax_ce' traced to linalg on tensors
module {
func.func @kiln_softmax_ce(%arg0: tensor<32x3xf32> {bufferization.writable = false},
    %arg1: tensor<32x3xf32> {bufferization.writable = false},
    %out0: tensor<f32> {bufferization.writable = true},
    %out1: tensor<32x3xf32> {bufferization.writable = true}) -> (tensor<f32>, tensor<32x3xf32>) attributes {llvm.emit_c_interface} {
  // %2 = softmax_cross_entropy_with_logits(%arg0, %arg1) : float32[32]
  %t0 = arith.constant 0xFF800000 : f32
  %t1 = tensor.empty() : tensor<32xf32>
  %t2 = linalg.fill ins(%t0 : f32) outs(%t1 : tensor<32xf32>) -> tensor<32xf32>
  %t3 = arith.constant 0x00000000 : f32
  %t4 = tensor.empty() : tensor<32xf32>
  %t5 = linalg.fill ins(%t3 : f32) outs(%t4 : tensor<32xf32>) -> tensor<32xf32>
  %t6 = arith.constant 0x00000000 : f32
  %t7 = tensor.empty() : tensor<32xf32>
  %t8 = linalg.fill ins(%t6 : f32) outs(%t7 : tensor<32xf32>) -> tensor<32xf32>
  %t9 = arith.constant 0x00000000 : f32
  %t10 = tensor.empty() : tensor<32xf32>
  %t11 = linalg.fill ins(%t9 : f32) outs(%t10 : tensor<32xf32>) -> tensor<32xf32>
  %t12:4 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%arg1, %arg0 : tensor<32x3xf32>, tensor<32x3xf32>) outs(%t2, %t5, %t8, %t11 : tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) {
  ^bb0(%t13: f32, %t14: f32, %t15: f32, %t16: f32, %t17: f32, %t18: f32):
    %t19 = arith.constant 0xFF800000 : f32
    %t20 = arith.cmpf olt, %t15, %t13 : f32
    %t21 = arith.select %t20, %t13, %t15 : f32
    %t22 = arith.select %t20, %t15, %t13 : f32
    %t23 = arith.cmpf oeq, %t22, %t19 : f32
    %t24 = arith.subf %t22, %t21 : f32
    %t25 = arith.select %t23, %t19, %t24 : f32
    %t26 = math.exp %t25 : f32
    %t27 = arith.subf %t13, %t21 : f32
    %t28 = arith.constant 0x3F800000 : f32
    %t29 = arith.addf %t28, %t27 : f32
    %t30 = arith.addf %t16, %t26 : f32
    %t31 = arith.mulf %t16, %t26 : f32
    %t32 = arith.addf %t31, %t29 : f32
    %t33 = arith.select %t20, %t32, %t30 : f32
    %t34 = arith.constant 0x00000000 : f32
    %t35 = arith.cmpf oeq, %t18, %t34 : f32
    %t36 = arith.mulf %t18, %t25 : f32
    %t37 = arith.select %t35, %t34, %t36 : f32
    %t38 = arith.mulf %t14, %t25 : f32
    %t39 = arith.select %t20, %t37, %t38 : f32
    %t40 = arith.addf %t17, %t39 : f32
    %t41 = arith.addf %t18, %t14 : f32
    linalg.yield %t21, %t33, %t40, %t41 : f32, f32, f32, f32
  } -> (tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>)
  %t42 = tensor.empty() : tensor<32xf32>
  %t43 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%t12#0, %t12#1, %t12#2, %t12#3 : tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) outs(%t42 : tensor<32xf32>) {
  ^bb0(%t44: f32, %t45: f32, %t46: f32, %t47: f32, %t48: f32):
    %t49 = math.log %t45 : f32
    %t50 = arith.addf %t49, %t44 : f32
    %t51 = arith.subf %t50, %t44 : f32
    %t52 = arith.mulf %t47, %t51 : f32
    %t53 = arith.subf %t52, %t46 : f32
    linalg.yield %t53 : f32
  } -> tensor<32xf32>
  // %3 = reduce_mean(%2) : float32[]
  %t54 = arith.constant 0x0000000000000000 : f64
  %t55 = tensor.empty() : tensor<f64>
  %t56 = linalg.fill ins(%t54 : f64) outs(%t55 : tensor<f64>) -> tensor<f64>
  %t57 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%t43 : tensor<32xf32>) outs(%t56 : tensor<f64>) {
  ^bb0(%t58: f32, %t59: f64):
    %t60 = arith.extf %t58 : f32 to f64
    %t61 = arith.addf %t59, %t60 : f64
    linalg.yield %t61 : f64
  } -> tensor<f64>
  %t62 = tensor.empty() : tensor<f32>
  %t63 = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []} ins(%t57 : tensor<f64>) outs(%t62 : tensor<f32>) {
  ^bb0(%t64: f64, %t65: f32):
    %t66 = arith.constant 0x3FA0000000000000 : f64
    %t67 = arith.mulf %t64, %t66 : f64
    %t68 = arith.truncf %t67 : f64 to f32
    linalg.yield %t68 : f32
  } -> tensor<f32>
  // %4 = fill() : float32[]
  //   (a splat of 0x3F800000, inlined where read)
  // %5 = reshape(%4) : float32[1]
  //   (a splat of 0x3F800000, inlined where read)
  // %6 = broadcast_to(%5) : float32[32]
  //   (a splat of 0x3F800000, inlined where read)
  // %8 = div(%6, %c0) : float32[32]
  //   (a splat of 0x3D000000, inlined where read)
  // %9 = reshape(%8) : float32[32,1]
  //   (a splat of 0x3D000000, inlined where read)
  // %10 = reduce_sum(%arg0) : float32[32,1]
  %t69 = arith.constant 0x0000000000000000 : f64
  %t70 = tensor.empty() : tensor<32x1xf64>
  %t71 = linalg.fill ins(%t69 : f64) outs(%t70 : tensor<32x1xf64>) -> tensor<32x1xf64>
  %t72 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>], iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<32x3xf32>) outs(%t71 : tensor<32x1xf64>) {
  ^bb0(%t73: f32, %t74: f64):
    %t75 = arith.extf %t73 : f32 to f64
    %t76 = arith.addf %t74, %t75 : f64
    linalg.yield %t76 : f64
  } -> tensor<32x1xf64>
  %t77 = tensor.empty() : tensor<32x1xf32>
  %t78 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t72 : tensor<32x1xf64>) outs(%t77 : tensor<32x1xf32>) {
  ^bb0(%t79: f64, %t80: f32):
    %t81 = arith.truncf %t79 : f64 to f32
    linalg.yield %t81 : f32
  } -> tensor<32x1xf32>
  // %11 = softmax(%arg1) : float32[32,3]
  %t82 = tensor.empty() : tensor<32x3xf32>
  %t83 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%arg1, %t12#0, %t12#1 : tensor<32x3xf32>, tensor<32xf32>, tensor<32xf32>) outs(%t82 : tensor<32x3xf32>) {
  ^bb0(%t84: f32, %t85: f32, %t86: f32, %t87: f32):
    %t88 = arith.subf %t84, %t85 : f32
    %t89 = math.exp %t88 : f32
    %t90 = arith.divf %t89, %t86 : f32
    linalg.yield %t90 : f32
  } -> tensor<32x3xf32>
  // %12 = mul(%11, %10) : float32[32,3]
  %t91 = tensor.empty() : tensor<32x3xf32>
  %t92 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t83, %t78 : tensor<32x3xf32>, tensor<32x1xf32>) outs(%t91 : tensor<32x3xf32>) {
  ^bb0(%t93: f32, %t94: f32, %t95: f32):
    %t96 = arith.mulf %t93, %t94 : f32
    linalg.yield %t96 : f32
  } -> tensor<32x3xf32>
  // %13 = sub(%12, %arg0) : float32[32,3]
  %t97 = tensor.empty() : tensor<32x3xf32>
  %t98 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t92, %arg0 : tensor<32x3xf32>, tensor<32x3xf32>) outs(%t97 : tensor<32x3xf32>) {
  ^bb0(%t99: f32, %t100: f32, %t101: f32):
    %t102 = arith.subf %t99, %t100 : f32
    linalg.yield %t102 : f32
  } -> tensor<32x3xf32>
  // %14 = mul(%9, %13) : float32[32,3]
  %t103 = tensor.empty() : tensor<32x3xf32>
  %t104 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t98 : tensor<32x3xf32>) outs(%t103 : tensor<32x3xf32>) {
  ^bb0(%t105: f32, %t106: f32):
    %t107 = arith.constant 0x3D000000 : f32
    %t108 = arith.mulf %t107, %t105 : f32
    linalg.yield %t108 : f32
  } -> tensor<32x3xf32>
  %t109 = bufferization.materialize_in_destination %t63 in %out0 : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %t110 = bufferization.materialize_in_destination %t104 in %out1 : (tensor<32x3xf32>, tensor<32x3xf32>) -> tensor<32x3xf32>
  return %t109, %t110 : tensor<f32>, tensor<32x3xf32>
}
}
