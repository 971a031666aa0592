// RUN: kiln-opt --kiln-polynomial-math %s | FileCheck %s
// Note [Polynomial math]: float32 exp, log and tanh become polynomials (no libm call), a float32
// log's subnormal inputs are scaled by 2^24 first (then 24 ln 2 is subtracted); float64 stays.

// CHECK-LABEL: func.func @f32_math
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK-NOT: math.tanh
// CHECK-DAG: arith.constant 1.17549435E-38 : f32
// CHECK-DAG: arith.constant 0x4B800000 : f32
// CHECK-DAG: arith.constant 16.6355324 : f32
// CHECK: return
func.func @f32_math(%x: f32) -> (f32, f32, f32) {
  %e = math.exp %x : f32
  %l = math.log %x : f32
  %t = math.tanh %x : f32
  return %e, %l, %t : f32, f32, f32
}

// CHECK-LABEL: func.func @f64_math
// CHECK: math.exp %{{.*}} : f64
// CHECK: math.log %{{.*}} : f64
func.func @f64_math(%x: f64) -> (f64, f64) {
  %e = math.exp %x : f64
  %l = math.log %x : f64
  return %e, %l : f64, f64
}
