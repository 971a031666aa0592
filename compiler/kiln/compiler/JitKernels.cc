// JitKernels: the contractions compiled code hands to Eigen (linalg.matmul and its transposed
// forms, float32/float64): LinalgToLLVM.cc rewrites them, after bufferization, into calls of
// kiln_gemm_f32/f64 with memref descriptors (through MLIR's C interface, `_mlir_ciface_`).
//
// Note [Contractions in compiled code]
// convert-linalg-to-loops turns a matmul into a scalar triple loop that LLVM vectorizes poorly
// (the k loop is a reduction): measured here ~1-2 GFLOP/s at 128x256x256 and 512^3 against
// Eigen's 130-145 GFLOP/s. Tiling and vectorizing with the transform dialect reaches Eigen's
// range only with a tuned schedule per shape (MLIR19-NOTES.md: 55-58 GFLOP/s at 512^3); a call
// into the same GEMM eager uses gives eager's speed and eager's results at every size.
#include "kiln/compiler/JitKernels.h"

#include <Eigen/Core>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace kiln::compiler {

// MLIR's StridedMemRefType<T, 2>.
template <typename T>
struct Memref2 {
  T* allocated;
  T* aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};

namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using DynStride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;

using RowStride = Eigen::OuterStride<Eigen::Dynamic>;

template <typename T, typename Stride>
Eigen::Map<RowMajor<T>, 0, Stride> view(const Memref2<T>* m) {
  if constexpr (std::is_same_v<Stride, RowStride>) return {m->aligned + m->offset, m->sizes[0], m->sizes[1], RowStride(m->strides[0])};
  else return {m->aligned + m->offset, m->sizes[0], m->sizes[1], DynStride(m->strides[0], m->strides[1])};
}

template <typename T, typename Stride>
void gemm_as(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb) {
  auto A = view<T, Stride>(a);
  auto B = view<T, Stride>(b);
  auto C = view<T, Stride>(c);
  if (!ta && !tb) C.noalias() += A * B;
  else if (ta && !tb) C.noalias() += A.transpose() * B;
  else if (!ta && tb) C.noalias() += A * B.transpose();
  else C.noalias() += A.transpose() * B.transpose();
}

// c += op(a) * op(b), op = transpose where ta / tb (as linalg.matmul_transpose_a/_b). Rows with
// unit inner stride (every dense buffer and row slice) take Eigen's fast path; a dynamic inner
// stride makes Eigen's product several times slower.
template <typename T>
void gemm(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb) {
  if (c->sizes[0] == 0 || c->sizes[1] == 0) return;
  if (a->strides[1] == 1 && b->strides[1] == 1 && c->strides[1] == 1) gemm_as<T, RowStride>(a, b, c, ta, tb);
  else gemm_as<T, DynStride>(a, b, c, ta, tb);
}

}  // namespace
}  // namespace kiln::compiler

// The C interface the lowered calls use: descriptors by pointer; the transpose flags are i64
// (an i1 argument from LLVM carries no zero-extension guarantee a C bool relies on).
extern "C" {
void kiln_jit_gemm_f32(kiln::compiler::Memref2<float>* a, kiln::compiler::Memref2<float>* b,
                       kiln::compiler::Memref2<float>* c, int64_t ta, int64_t tb) {
  kiln::compiler::gemm(a, b, c, ta != 0, tb != 0);
}
void kiln_jit_gemm_f64(kiln::compiler::Memref2<double>* a, kiln::compiler::Memref2<double>* b,
                       kiln::compiler::Memref2<double>* c, int64_t ta, int64_t tb) {
  kiln::compiler::gemm(a, b, c, ta != 0, tb != 0);
}
}

namespace kiln::compiler {

std::vector<std::pair<std::string, void*>> jit_kernel_symbols() {
  return {{"_mlir_ciface_kiln_gemm_f32", reinterpret_cast<void*>(&kiln_jit_gemm_f32)},
          {"_mlir_ciface_kiln_gemm_f64", reinterpret_cast<void*>(&kiln_jit_gemm_f64)}};
}

bool use_library_gemm() {
  const char* mode = std::getenv("KILN_COMPILER_GEMM");
  return mode == nullptr || std::strcmp(mode, "loops") != 0;
}

}  // namespace kiln::compiler
