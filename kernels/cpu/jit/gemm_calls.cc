// JitKernels: the contractions compiled code hands to LIBXSMM (small) or kiln::kernels::gemm
// (linalg.matmul, linalg.batch_matmul and their transposed forms, float32/float64; Eigen's GEMM
// directly for rows with a non-unit inner stride): ContractionsToCalls.cc rewrites them, after
// bufferization, into calls of kiln_gemm_<t> / kiln_batch_gemm_<t> with memref descriptors
// (through MLIR's C interface, `_mlir_ciface_`).
//
// Note [Contractions in compiled code]
// convert-linalg-to-loops turns a matmul into a scalar triple loop that LLVM vectorizes poorly
// (the k loop is a reduction): measured here ~1-2 GFLOP/s at 128x256x256 and 512^3 against
// Eigen's 130-145 GFLOP/s. Tiling and vectorizing with the transform dialect reaches Eigen's
// range only with a tuned schedule per shape (MLIR19-NOTES.md: 55-58 GFLOP/s at 512^3); a call
// into the same GEMM eager uses (kiln::kernels::gemm, on every kernel thread) gives eager's speed
// and eager's results at every size.
#include "kernels/cpu/jit/jit_abi.h"
#include "kernels/cpu/jit/temporary_buffers.h"

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel_for.h"

#include <Eigen/Core>
#include <libxsmm.h>
#include <libxsmm_generator.h>
#include <sys/mman.h>
#include <unistd.h>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

#include "kiln/error.h"

namespace kiln::kernels::jit {

template <typename T>
using Memref2 = MemrefDescriptor<T, 2>;
template <typename T>
using Memref1 = MemrefDescriptor<T, 1>;

namespace {
template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using DynStride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;

template <typename T>
Eigen::Map<RowMajor<T>, 0, DynStride> strided_view(const Memref2<T>* m) {
  return {m->aligned + m->offset, m->sizes[0], m->sizes[1], DynStride(m->strides[0], m->strides[1])};
}

// c += op(a) * op(b) on Eigen's product over maps with both strides dynamic.
template <typename T>
void strided_gemm(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb) {
  auto A = strided_view(a);
  auto B = strided_view(b);
  auto C = strided_view(c);
  if (!ta && !tb) C.noalias() += A * B;
  else if (ta && !tb) C.noalias() += A.transpose() * B;
  else if (!ta && tb) C.noalias() += A * B.transpose();
  else C.noalias() += A.transpose() * B.transpose();
}

// Note [Small GEMM]
// Below ~64^3 multiply-adds Eigen's GEMM spends most of a call packing and blocking (the iris
// step's 8 GEMMs of 16x4x20 to 16x20x20 were ~40% of the compiled step). LIBXSMM JIT-generates
// a kernel per shape for exactly these sizes (measured here: 16x4x20 55 ns against Eigen's 94,
// 16x20x20 102 against 229, dispatch included). LIBXSMM is column-major: a row-major
// C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, i.e. the same buffers with the
// operands swapped. LIBXSMM 1.17 has no transposed first operand, which a row-major B^T would
// need: B (n x k, at most kSmallPackedB elements) is copied transposed into a per-thread buffer
// first, by LIBXSMM's JIT transpose (the iris step's dy W^T products: 400 and 60 elements),
// which measured cheaper than Eigen's packing; shapes LIBXSMM declines (larger than its JIT
// threshold) stay on Eigen.
constexpr int64_t kSmallPackedB = 4096;

// A generated kernel: column-major C = A B (+ C) for one shape, flags and beta.
template <typename T>
using SmallKernel = void (*)(const T* a, const T* b, T* c);
// A generated transpose: column-major in (m x n, leading dim *ldi) to out (n x m, leading dim
// *ldo, the one it was generated for).
using TransposeKernel = libxsmm_xtransfunction;

// Note [LIBXSMM's code generator alone]
// LIBXSMM's dispatch first sets the library up once per process (libxsmm_init: ~6 ms here,
// mostly an 8 MB registry of kernels zeroed and locked in memory) and then looks kernels up in
// that registry. Run on a thread of its own at the first compiled call (as sessions 3-5 did), it
// still stalled that call's trace and link by ~4-5 ms on this 2-core machine (throwaway timing:
// the Executable's construction 4.5 ms without it, 10 ms with). Kiln keeps its kernels itself
// (Note [Small GEMM kernel cache]), so it needs neither: it asks LIBXSMM's code generator for a
// shape's machine code (libxsmm_generator_gemm_kernel or _transpose_kernel, for the CPU
// libxsmm_cpuid reports, no prefetch), copies it into an executable page of its own and keeps it
// in a process-wide table (process_kernel), under a mutex taken only when a thread's own table
// misses. Kernels live until the process exits. A shape the generator declines (an error, or a
// CPU it has no code for) is kept as null and stays on kernels::gemm or the scalar copy.

// LIBXSMM's machine code for one kernel, made by `generate` into a buffer of LIBXSMM's size,
// copied into executable pages of its own; null where the generator declines.
template <typename Generate>
void* executable_kernel(Generate&& generate) {
  static const int arch = libxsmm_cpuid();
  constexpr size_t kCodeBytes = 131072;  // LIBXSMM's own buffer for one kernel (LIBXSMM_CODE_MAXSIZE)
  std::vector<unsigned char> code(kCodeBytes);
  libxsmm_generated_code generated{};
  generated.generated_code = code.data();
  generated.buffer_size = kCodeBytes;
  generated.code_type = 2;  // machine code
  generated.arch = static_cast<unsigned int>(arch);
  generate(&generated, arch);
  if (generated.last_error != 0 || generated.code_size == 0) return nullptr;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t bytes = (generated.code_size + page - 1) / page * page;
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  std::memcpy(memory, code.data(), generated.code_size);
  if (::mprotect(memory, bytes, PROT_READ | PROT_EXEC) != 0) {
    ::munmap(memory, bytes);
    return nullptr;
  }
  return memory;
}

// The process-wide table: what `make` gave for `key` (null included), made once under a mutex.
// One table per kernel kind (`make`'s type, a lambda of its call site).
template <typename Kernel, typename Key, typename Make>
Kernel process_kernel(const Key& key, Make&& make) {
  static std::mutex mutex;
  static std::map<Key, Kernel> kernels;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = kernels.try_emplace(key, nullptr);
  if (fresh) it->second = make();
  return it->second;
}

// Note [Small GEMM kernel cache]
// LIBXSMM's dispatch found a shape's kernel again by hashing its whole GEMM descriptor into a
// shared registry: ~25 ns a call, 0.2 us of the iris step's 2.7 (its 8 GEMMs; perf:
// libxsmm_xmmdispatch, libxsmm_diff_n, internal_find_code, the descriptor's set-up). A compiled
// step asks for the same few shapes on every call, so each thread keeps its kernels in a small
// direct-mapped table keyed by two packed words (the shape, leading dims, beta and flags), in
// front of the process-wide one; a declined shape is remembered too (as null). Kernels live
// until the process ends, so a remembered pointer never dangles. One table per kernel kind
// (`make`'s type); the key (0, 0) marks an empty slot, so keys must never be (0, 0).
template <typename Kernel, int kSlotBits, typename Make>
inline Kernel per_thread_kernel(uint64_t key0, uint64_t key1, Make&& make) {
  struct Slot {
    uint64_t key0 = 0, key1 = 0;
    Kernel kernel = nullptr;
  };
  thread_local std::array<Slot, size_t{1} << kSlotBits> slots;
  Slot& slot = slots[((key0 ^ key1 * 0x9E3779B97F4A7C15ull) * 0xC2B2AE3D27D4EB4Full) >> (64 - kSlotBits)];
  if (slot.key0 == key0 && slot.key1 == key1) return slot.kernel;
  slot = {key0, key1, make()};
  return slot.kernel;
}

template <typename T>
SmallKernel<T> generate_kernel(libxsmm_blasint m, libxsmm_blasint n, libxsmm_blasint k, libxsmm_blasint lda,
                               libxsmm_blasint ldb, libxsmm_blasint ldc, bool accumulate, int flags) {
  const std::array<int64_t, 7> key = {m, n, k, lda, ldb, ldc, flags * 2 + (accumulate ? 1 : 0)};
  return process_kernel<SmallKernel<T>>(key, [&]() -> SmallKernel<T> {
    libxsmm_descriptor_blob blob;
    const libxsmm_gemm_descriptor* descriptor =
        std::is_same_v<T, float>
            ? libxsmm_sgemm_descriptor_init(&blob, m, n, k, lda, ldb, ldc, 1.0f, accumulate ? 1.0f : 0.0f, flags,
                                            LIBXSMM_GEMM_PREFETCH_NONE)
            : libxsmm_dgemm_descriptor_init(&blob, m, n, k, lda, ldb, ldc, 1.0, accumulate ? 1.0 : 0.0, flags,
                                            LIBXSMM_GEMM_PREFETCH_NONE);
    if (descriptor == nullptr) return nullptr;
    return reinterpret_cast<SmallKernel<T>>(executable_kernel(
        [&](libxsmm_generated_code* code, int) { libxsmm_generator_gemm_kernel(code, descriptor); }));
  });
}

// Note [Small GEMM]'s B^T copy as LIBXSMM's JIT transpose (20 x 20: 35 ns against 69 for the
// scalar loop, throwaway microbenchmark): the row-major n x k B, read as column-major k x n,
// into the row-major k x n copy (column-major n x k, leading dim n). Null where LIBXSMM declines.
template <typename T>
TransposeKernel transpose_kernel(libxsmm_blasint k, libxsmm_blasint n) {
  const uint64_t key = static_cast<uint64_t>(k) << 32 | static_cast<uint64_t>(n);  // n >= 1: never 0
  return per_thread_kernel<TransposeKernel, 4>(key, 0, [=] {
    return process_kernel<TransposeKernel>(key, [=]() -> TransposeKernel {
      libxsmm_descriptor_blob blob;
      const libxsmm_trans_descriptor* descriptor = libxsmm_trans_descriptor_init(
          &blob, sizeof(T), static_cast<unsigned>(k), static_cast<unsigned>(n), static_cast<unsigned>(n));
      if (descriptor == nullptr) return nullptr;
      return reinterpret_cast<TransposeKernel>(executable_kernel(
          [&](libxsmm_generated_code* code, int arch) { libxsmm_generator_transpose_kernel(code, descriptor, arch); }));
    });
  });
}

// A GEMM kernel by shape (Note [Small GEMM kernel cache]).
template <typename T>
inline SmallKernel<T> small_kernel(libxsmm_blasint m, libxsmm_blasint n, libxsmm_blasint k, libxsmm_blasint lda,
                                   libxsmm_blasint ldb, libxsmm_blasint ldc, bool accumulate, bool transpose_a) {
  // Column-major C^T = op(B)^T op(A)^T (Note [Small GEMM]): n x m, B first, A^T as LIBXSMM's
  // transposed second operand.
  auto generate = [=]() __attribute__((noinline, cold)) {
    return generate_kernel<T>(n, m, k, ldb, lda, ldc, accumulate,
                              transpose_a ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE);
  };
  // The key in two words: m, n, k < 2^19 each (small_gemm's m n k <= 64^3; m >= 1, so never 0),
  // the flag bits, and the leading dims when each is below 2^21 (a wider one goes to
  // generate_kernel's table).
  constexpr int64_t kDimBits = 21;
  if (lda >= (int64_t{1} << kDimBits) || ldb >= (int64_t{1} << kDimBits) || ldc >= (int64_t{1} << kDimBits))
    return generate();
  const uint64_t shape = static_cast<uint64_t>(m) | static_cast<uint64_t>(n) << 19 | static_cast<uint64_t>(k) << 38 |
                         static_cast<uint64_t>(transpose_a) << 57 | static_cast<uint64_t>(accumulate) << 58;
  const uint64_t dims = static_cast<uint64_t>(lda) | static_cast<uint64_t>(ldb) << kDimBits |
                        static_cast<uint64_t>(ldc) << (2 * kDimBits);
  return per_thread_kernel<SmallKernel<T>, 6>(shape, dims, generate);
}

// Note [Flipped small GEMM]
// LIBXSMM vectorizes a column-major C's columns, i.e. a row-major C's rows: a C = A^T B with few
// columns (the iris step's dW3, 20 x 3 over 16 rows) runs on vectors 3 of 16 lanes full. Such a
// product is also LIBXSMM's column-major P = A_mem B_mem^T (A's memory read as M x K, B's as
// N x K transposed), whose vectors run down P's M-long columns; P is then added into C
// transposed. Done when the lanes that count in that product, plus the M x N copy, are at most
// three quarters of the lanes that count the plain way. dW3 measured 58 ns plain against 21 ns
// for the flipped product plus its 60-element copy (throwaway microbenchmark, not in the repo).
template <typename T>
bool flip_pays(int64_t m, int64_t n, int64_t k) {
  constexpr int64_t lanes = 64 / sizeof(T);  // one AVX-512 vector
  const int64_t plain = (n + lanes - 1) / lanes * m * k, flipped = (m + lanes - 1) / lanes * n * k + m * n;
  return m * n <= kSmallPackedB && 4 * flipped <= 3 * plain;
}

template <typename T>
bool small_gemm(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb, bool accumulate) {
  if (a->strides[1] != 1 || b->strides[1] != 1 || c->strides[1] != 1) return false;
  const libxsmm_blasint m = c->sizes[0], n = c->sizes[1], k = ta ? a->sizes[0] : a->sizes[1];
  if (m * n * k > 64 * 64 * 64 || (tb && n * k > kSmallPackedB)) return false;
  const libxsmm_blasint lda = a->strides[0], ldc = c->strides[0];
  if (ta && !tb && flip_pays<T>(m, n, k)) {
    // P (column-major m x n) = A_mem B_mem^T: small_kernel's n x m product with A and B swapped.
    const SmallKernel<T> kernel = small_kernel<T>(n, m, k, b->strides[0], lda, m, /*accumulate=*/false, true);
    if (kernel == nullptr) return false;
    thread_local T flipped[kSmallPackedB];
    kernel(a->aligned + a->offset, b->aligned + b->offset, flipped);
    T* C = c->aligned + c->offset;
    for (libxsmm_blasint i = 0; i < m; ++i)
      for (libxsmm_blasint j = 0; j < n; ++j)
        C[i * ldc + j] = accumulate ? C[i * ldc + j] + flipped[j * m + i] : flipped[j * m + i];
    return true;
  }
  const libxsmm_blasint ldb = tb ? n : b->strides[0];
  const SmallKernel<T> kernel = small_kernel<T>(m, n, k, lda, ldb, ldc, accumulate, ta);
  if (kernel == nullptr) return false;
  const T* A = a->aligned + a->offset;
  const T* B = b->aligned + b->offset;
  if (tb) {  // B^T as a row-major k x n copy
    thread_local T packed[kSmallPackedB];
    const int64_t b_stride = b->strides[0];
    if (const TransposeKernel transpose = transpose_kernel<T>(k, n)) {
      const unsigned ldi = static_cast<unsigned>(b_stride), ldo = static_cast<unsigned>(n);
      transpose(B, &ldi, packed, &ldo);
    } else {  // rows of the copy written contiguously (2x faster at 20x20 than columns)
      for (libxsmm_blasint p = 0; p < k; ++p)
        for (libxsmm_blasint j = 0; j < n; ++j) packed[p * n + j] = B[j * b_stride + p];
    }
    B = packed;
  }
  kernel(B, A, c->aligned + c->offset);
  return true;
}

// The epilogue on c after its product (the paths that do not run kernels::gemm).
template <typename T>
void apply_epilogue(const kernels::GemmEpilogue<T>& epilogue, Memref2<T>* c) {
  if (epilogue.empty()) return;
  T* data = c->aligned + c->offset;
  if (c->strides[1] == 1) {
    kernels::apply_epilogue(epilogue, c->sizes[0], c->sizes[1], data, c->strides[0]);
    return;
  }
  for (int64_t i = 0; i < c->sizes[0]; ++i)
    for (int64_t j = 0; j < c->sizes[1]; ++j) {
      T& v = data[i * c->strides[0] + j * c->strides[1]];
      if (epilogue.bias != nullptr) v = epilogue.bias[j] + v;
      if (epilogue.relu) v = v > T(0) ? v : T(0);
    }
}

// c = op(a) * op(b) (c += ... when `accumulate`), op = transpose where ta / tb (as
// linalg.matmul_transpose_a/_b), then `epilogue`. Rows with unit inner stride (every dense buffer
// and row slice) go to kiln::kernels::gemm, as eager matmul does; a dynamic inner stride stays
// on Eigen's product over strided maps (several times slower, and rare: a transposed view's
// slice).
template <typename T>
void gemm(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb, bool accumulate,
          const kernels::GemmEpilogue<T>& epilogue) {
  if (c->sizes[0] == 0 || c->sizes[1] == 0) return;
  if (small_gemm(a, b, c, ta, tb, accumulate)) {
    apply_epilogue(epilogue, c);
    return;
  }
  if (a->strides[1] == 1 && b->strides[1] == 1 && c->strides[1] == 1) {
    const int64_t m = c->sizes[0], n = c->sizes[1], k = ta ? a->sizes[0] : a->sizes[1];
    kernels::gemm<T>(ta, tb, m, n, k, T(1), a->aligned + a->offset, a->strides[0], b->aligned + b->offset,
                     b->strides[0], accumulate ? T(1) : T(0), c->aligned + c->offset, c->strides[0], epilogue);
    return;
  }
  if (!accumulate) strided_view(c).setZero();
  strided_gemm(a, b, c, ta, tb);
  apply_epilogue(epilogue, c);
}

// gemm without an epilogue: what contraction_entry calls for kiln_gemm_<t>.
template <typename T>
void plain_gemm(const Memref2<T>* a, const Memref2<T>* b, Memref2<T>* c, bool ta, bool tb, bool accumulate) {
  gemm(a, b, c, ta, tb, accumulate, kernels::GemmEpilogue<T>{});
}

// kiln_gemm_bias_<t>'s C interface: contraction_entry's, with the fused bias between b and c and
// the relu flag (an i64, as the others) in place of accumulate.
template <typename T>
void gemm_bias_entry(Memref2<T>* a, Memref2<T>* b, Memref1<T>* bias, Memref2<T>* c, int64_t ta, int64_t tb,
                     int64_t relu) {
  KILN_ASSERT(bias->sizes[0] == c->sizes[1], "a fused bias has one value per column of the product");
  std::vector<T> copy;
  const kernels::GemmEpilogue<T> epilogue{unit_stride_values(bias, copy), relu != 0};
  gemm(a, b, c, ta != 0, tb != 0, /*accumulate=*/false, epilogue);
}

// c[i] = op(a[i]) * op(b[i]) (c[i] += ... when `accumulate`) for each batch entry i of [batch,
// rows, cols] buffers: one gemm per entry, as eager matmul loops over its batch dims.
template <typename T>
void batch_gemm(const MemrefDescriptor<T, 3>* a, const MemrefDescriptor<T, 3>* b, MemrefDescriptor<T, 3>* c, bool ta,
                bool tb, bool accumulate) {
  for (int64_t i = 0; i < c->sizes[0]; ++i) {
    const Memref2<T> ai = batch_entry(a, i), bi = batch_entry(b, i);
    Memref2<T> ci = batch_entry(c, i);
    plain_gemm(&ai, &bi, &ci, ta, tb, accumulate);
  }
}

}  // namespace

std::vector<std::pair<std::string, void*>> jit_kernel_symbols() {
  // Reads KILN_NUM_THREADS here, where a bad value can still throw kiln::Error to the caller:
  // an exception cannot unwind through the compiled code that calls kiln_gemm_*.
  kernels::num_threads();
  std::vector<std::pair<std::string, void*>> symbols = {
      {"_mlir_ciface_kiln_gemm_f32", reinterpret_cast<void*>(&contraction_entry<float, 2, &plain_gemm<float>>)},
      {"_mlir_ciface_kiln_gemm_f64", reinterpret_cast<void*>(&contraction_entry<double, 2, &plain_gemm<double>>)},
      {"_mlir_ciface_kiln_gemm_bias_f32", reinterpret_cast<void*>(&gemm_bias_entry<float>)},
      {"_mlir_ciface_kiln_gemm_bias_f64", reinterpret_cast<void*>(&gemm_bias_entry<double>)},
      {"_mlir_ciface_kiln_batch_gemm_f32", reinterpret_cast<void*>(&contraction_entry<float, 3, &batch_gemm<float>>)},
      {"_mlir_ciface_kiln_batch_gemm_f64",
       reinterpret_cast<void*>(&contraction_entry<double, 3, &batch_gemm<double>>)}};
  for (auto& s : conv_kernel_symbols()) symbols.push_back(std::move(s));
  for (auto& s : integer_gemm_kernel_symbols()) symbols.push_back(std::move(s));
  for (auto& s : temporary_buffer_symbols()) symbols.push_back(std::move(s));
  return symbols;
}

bool use_library_gemm() {
  const char* mode = std::getenv("KILN_COMPILER_GEMM");
  return mode == nullptr || std::strcmp(mode, "loops") != 0;
}

}  // namespace kiln::kernels::jit
