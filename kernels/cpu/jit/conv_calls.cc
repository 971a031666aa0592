// ConvKernels: the C functions compiled code calls for conv2d and its backprops (Note
// [Convolutions in compiled code] in GraphToLinalgConv.cc): memref descriptors in, the eager
// kernels of kernels/cpu/conv.h on their dense buffers.
#include <cstdint>
#include <vector>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/jit/jit_abi.h"
#include "kiln/error.h"

namespace kiln::kernels::jit {

namespace {
template <typename T>
using Memref4 = MemrefDescriptor<T, 4>;
template <typename T>
using Memref1 = MemrefDescriptor<T, 1>;

// The lowering passes identity-layout buffers (bufferization copies any other layout first).
template <typename T>
T* dense(const Memref4<T>* m) {
  KILN_ASSERT(m->strides[3] == 1 && m->strides[2] == m->sizes[3] && m->strides[1] == m->sizes[2] * m->sizes[3] &&
                  m->strides[0] == m->sizes[1] * m->sizes[2] * m->sizes[3],
              "compiled convolutions get dense row-major buffers");
  return m->aligned + m->offset;
}

// x [n,h,w,c], filter [kh,kw,c,f].
template <typename T>
Conv2DGeometry geometry(const Memref4<T>* x, const Memref4<T>* filter, const Memref1<T>* scratch, int64_t sh,
                                 int64_t sw, int64_t same) {
  const Conv2DGeometry g = conv2d_geometry(x->sizes[0], x->sizes[1], x->sizes[2], x->sizes[3],
                                                             filter->sizes[0], filter->sizes[1], filter->sizes[3], sh, sw,
                                                             same != 0);
  KILN_ASSERT(scratch->sizes[0] >= kernels::conv2d_scratch_elements(g, sizeof(T)),
              "the compiled scratch buffer holds what conv2d_scratch_elements asks for");
  return g;
}

template <typename T>
T* data(const Memref1<T>* m) {
  return m->aligned + m->offset;
}

}  // namespace

}  // namespace kiln::kernels::jit

// The C interface (`_mlir_ciface_` + the declared name): descriptors by pointer, then the
// strides and the padding flag as i64.
extern "C" {
#define KILN_CONV_KERNELS(T, suffix)                                                                                      \
  void kiln_jit_conv2d_##suffix(kiln::kernels::jit::MemrefDescriptor<T, 4>* x, kiln::kernels::jit::MemrefDescriptor<T, 4>* filter, \
                                kiln::kernels::jit::MemrefDescriptor<T, 4>* y, kiln::kernels::jit::MemrefDescriptor<T, 1>* scratch, \
                                int64_t sh, int64_t sw, int64_t same) {                                                   \
    using namespace kiln::kernels::jit;                                                                                       \
    kiln::kernels::conv2d<T>(geometry(x, filter, scratch, sh, sw, same), dense(x), dense(filter), dense(y), data(scratch)); \
  }                                                                                                                       \
  void kiln_jit_conv2d_bias_##suffix(kiln::kernels::jit::MemrefDescriptor<T, 4>* x,                                         \
                                     kiln::kernels::jit::MemrefDescriptor<T, 4>* filter,                                    \
                                     kiln::kernels::jit::MemrefDescriptor<T, 1>* bias,                                      \
                                     kiln::kernels::jit::MemrefDescriptor<T, 4>* y,                                         \
                                     kiln::kernels::jit::MemrefDescriptor<T, 1>* scratch, int64_t sh, int64_t sw,           \
                                     int64_t same, int64_t relu) {                                                      \
    using namespace kiln::kernels::jit;                                                                                       \
    KILN_ASSERT(bias->sizes[0] == filter->sizes[3], "a fused bias has one value per channel");                          \
    std::vector<T> copy;                                                                                                  \
    kiln::kernels::conv2d<T>(geometry(x, filter, scratch, sh, sw, same), dense(x), dense(filter), dense(y), data(scratch), \
                             kiln::kernels::GemmEpilogue<T>{unit_stride_values(bias, copy), relu != 0});                         \
  }                                                                                                                       \
  void kiln_jit_conv2d_backprop_input_##suffix(                                                                           \
      kiln::kernels::jit::MemrefDescriptor<T, 4>* filter, kiln::kernels::jit::MemrefDescriptor<T, 4>* dy,                         \
      kiln::kernels::jit::MemrefDescriptor<T, 4>* dx, kiln::kernels::jit::MemrefDescriptor<T, 1>* scratch, int64_t sh, int64_t sw, \
      int64_t same) {                                                                                                     \
    using namespace kiln::kernels::jit;                                                                                       \
    kiln::kernels::conv2d_backprop_input<T>(geometry(dx, filter, scratch, sh, sw, same), dense(filter), dense(dy),        \
                                            dense(dx), data(scratch));                                                    \
  }                                                                                                                       \
  void kiln_jit_conv2d_backprop_filter_##suffix(                                                                          \
      kiln::kernels::jit::MemrefDescriptor<T, 4>* x, kiln::kernels::jit::MemrefDescriptor<T, 4>* dy,                              \
      kiln::kernels::jit::MemrefDescriptor<T, 4>* dfilter, kiln::kernels::jit::MemrefDescriptor<T, 1>* scratch, int64_t sh,       \
      int64_t sw, int64_t same) {                                                                                         \
    using namespace kiln::kernels::jit;                                                                                       \
    kiln::kernels::conv2d_backprop_filter<T>(geometry(x, dfilter, scratch, sh, sw, same), dense(x), dense(dy),            \
                                             dense(dfilter), data(scratch));                                              \
  }
KILN_CONV_KERNELS(float, f32)
KILN_CONV_KERNELS(double, f64)
#undef KILN_CONV_KERNELS
}

namespace kiln::kernels::jit {

std::vector<std::pair<std::string, void*>> conv_kernel_symbols() {
  return {
      {"_mlir_ciface_kiln_conv2d_f32", reinterpret_cast<void*>(&kiln_jit_conv2d_f32)},
      {"_mlir_ciface_kiln_conv2d_f64", reinterpret_cast<void*>(&kiln_jit_conv2d_f64)},
      {"_mlir_ciface_kiln_conv2d_bias_f32", reinterpret_cast<void*>(&kiln_jit_conv2d_bias_f32)},
      {"_mlir_ciface_kiln_conv2d_bias_f64", reinterpret_cast<void*>(&kiln_jit_conv2d_bias_f64)},
      {"_mlir_ciface_kiln_conv2d_backprop_input_f32", reinterpret_cast<void*>(&kiln_jit_conv2d_backprop_input_f32)},
      {"_mlir_ciface_kiln_conv2d_backprop_input_f64", reinterpret_cast<void*>(&kiln_jit_conv2d_backprop_input_f64)},
      {"_mlir_ciface_kiln_conv2d_backprop_filter_f32", reinterpret_cast<void*>(&kiln_jit_conv2d_backprop_filter_f32)},
      {"_mlir_ciface_kiln_conv2d_backprop_filter_f64", reinterpret_cast<void*>(&kiln_jit_conv2d_backprop_filter_f64)},
  };
}

}  // namespace kiln::kernels::jit
