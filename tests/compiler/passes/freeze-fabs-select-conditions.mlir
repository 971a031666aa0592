// RUN: kiln-opt --kiln-freeze-fabs-select-conditions %s | FileCheck %s
// Note [LLVM 19 and fabs of a select] (FreezeFabsSelectConditions.cc): a select whose condition
// compares a fabs gets that condition frozen, so LLVM 19's -O2 keeps the outer fabs; other
// selects are left alone.

// CHECK-LABEL: llvm.func @abs_of_relu_grad_of_abs(
// CHECK: %[[A:[^ ]*]] = llvm.intr.fabs(%[[X:[^)]*]])
// CHECK: %[[C:[^ ]*]] = llvm.fcmp "ogt" %[[A]],
// CHECK: %[[F:[^ ]*]] = llvm.freeze %[[C]] : i1
// CHECK: llvm.select %[[F]], %[[X]]
llvm.func @abs_of_relu_grad_of_abs(%x: f32) -> f32 {
  %zero = llvm.mlir.constant(0.0 : f32) : f32
  %a = llvm.intr.fabs(%x) : (f32) -> f32
  %c = llvm.fcmp "ogt" %a, %zero : f32
  %s = llvm.select %c, %x, %zero : i1, f32
  %r = llvm.intr.fabs(%s) : (f32) -> f32
  llvm.return %r : f32
}

// CHECK-LABEL: llvm.func @relu(
// CHECK-NOT: llvm.freeze
// CHECK: llvm.select
llvm.func @relu(%x: f32) -> f32 {
  %zero = llvm.mlir.constant(0.0 : f32) : f32
  %c = llvm.fcmp "ogt" %x, %zero : f32
  %s = llvm.select %c, %x, %zero : i1, f32
  llvm.return %s : f32
}
