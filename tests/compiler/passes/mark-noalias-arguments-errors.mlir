// RUN: kiln-opt --kiln-mark-noalias-arguments --verify-diagnostics %s
// A kiln.noalias_arguments position that is not a pointer parameter is a diagnostic on the
// function, not a crash of the compiler (kiln-opt reads any .mlir file).

// expected-error @below {{kiln.noalias_arguments: parameter 1 is not a view's pointer}}
llvm.func @f_body(%a: !llvm.ptr, %b: i64) attributes {kiln.noalias_arguments = array<i32: 1>} {
  llvm.return
}
