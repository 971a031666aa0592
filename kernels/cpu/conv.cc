// CPU kernels of conv2d and its two backprops: im2col in chunks of images + kiln::kernels::gemm
// (the raw-pointer functions of conv.h, shared with compiled code), and the op-table kernels.
#include "kernels/cpu/conv.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel_for.h"
#include "kiln/core/op_def.h"
#include "kiln/core/window_padding.h"

namespace kiln::kernels {
namespace {

// Note [Convolution as GEMM]
// Each output pixel's receptive field, laid out as one row of kh*kw*c values in (p, q, k) order
// (im2col), is a row of a matrix whose product with the filter viewed as [kh*kw*c, f] is the
// output viewed as [pixels, f]: NHWC output rows are exactly those pixels. The backprops are the
// same product transposed: dfilter = im2col(x)^T dy, and dx = col2im(dy filter^T), where col2im
// adds each patch row back at the input positions it was read from. The im2col matrix of a
// whole batch is large (batch 1000 of the CNN's second layer: 400 pixels x 500 values x 4 bytes
// per image, 800 MB), so the kernels walk the batch in chunks of images whose matrix stays near
// kChunkBytes: the GEMM of a chunk still has thousands of rows, and the buffer is reused.
constexpr int64_t kChunkBytes = int64_t{8} << 20;

// A 1x1 filter at stride 1 without padding reads each pixel as its own patch: x already is the
// im2col matrix.
bool needs_im2col(const Conv2DGeometry& g) {
  return !(g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0);
}

int64_t chunk_images(const Conv2DGeometry& g, int64_t element_bytes) {
  const int64_t per_image = std::max<int64_t>(g.oh * g.ow * g.patch() * element_bytes, 1);
  return std::clamp<int64_t>(kChunkBytes / per_image, 1, std::max<int64_t>(g.n, 1));
}

// Note [Parallel im2col]
// im2col and col2im move every element of the patch matrix once (conv2 at batch 128: 102 MB
// of patches; the CNN's compiled step ran them for ~7 of its ~35 ms outside the GEMMs, on one
// thread while the other waited). Images are independent (each image's patch rows, and each
// image's dx, belong to it alone), so both run over blocks of images on the kernel threads
// (parallel_for), the same additions in the same order per element: results do not depend on
// the thread count. Below kParallelMinElements patch values a call stays on its thread.
constexpr int64_t kParallelMinElements = int64_t{1} << 16;
constexpr int64_t kImagesPerTask = 4;

// Runs image(b) for b in [0, images), over the kernel threads when the patches are many.
template <typename Image>
void for_each_image(const Conv2DGeometry& g, int64_t images, Image&& image) {
  if (images < 2 || images * g.oh * g.ow * g.patch() < kParallelMinElements) {
    for (int64_t b = 0; b < images; ++b) image(b);
    return;
  }
  parallel_for((images + kImagesPerTask - 1) / kImagesPerTask, [&](int64_t t) {
    for (int64_t b = t * kImagesPerTask, end = std::min(images, b + kImagesPerTask); b < end; ++b) image(b);
  });
}

// A plain loop rather than std::copy: the runs are short (kw * c values: 5 for the CNN's first
// layer), where a memmove call costs more than the copy.
template <typename T>
void copy_run(const T* src, int64_t n, T* dst) {
  for (int64_t e = 0; e < n; ++e) dst[e] = src[e];
}

// The im2col rows of images [0, images) of `x` (already offset to the chunk's first image):
// row (b, i, j) holds x[b, i*sh + p - pad_top, j*sw + q - pad_left, :] for p, q in order, zeros
// where that falls outside the image.
template <typename T>
void im2col(const Conv2DGeometry& g, int64_t images, const T* x, T* col) {
  const int64_t c = g.c, kwc = g.kw * c, patch = g.patch();
  for_each_image(g, images, [&](int64_t b) {
    const T* img = x + b * g.h * g.w * c;
    for (int64_t i = 0; i < g.oh; ++i)
      for (int64_t j = 0; j < g.ow; ++j) {
        T* row = col + ((b * g.oh + i) * g.ow + j) * patch;
        const int64_t y0 = i * g.stride_h - g.pad_top, x0 = j * g.stride_w - g.pad_left;
        for (int64_t p = 0; p < g.kh; ++p) {
          T* dst = row + p * kwc;
          const int64_t y = y0 + p;
          if (y < 0 || y >= g.h) {
            std::fill(dst, dst + kwc, T(0));
            continue;
          }
          const T* src = img + y * g.w * c;
          if (x0 >= 0 && x0 + g.kw <= g.w) {  // the kw pixels are contiguous in x
            copy_run(src + x0 * c, kwc, dst);
            continue;
          }
          for (int64_t q = 0; q < g.kw; ++q) {
            const int64_t xx = x0 + q;
            if (xx < 0 || xx >= g.w) std::fill(dst + q * c, dst + (q + 1) * c, T(0));
            else copy_run(src + xx * c, c, dst + q * c);
          }
        }
      }
  });
}

// im2col's transpose: adds every row of `col` back where im2col read it from, into `dx`
// (zeroed first) for images [0, images).
template <typename T>
void col2im(const Conv2DGeometry& g, int64_t images, const T* col, T* dx) {
  const int64_t c = g.c, kwc = g.kw * c, patch = g.patch();
  for_each_image(g, images, [&](int64_t b) {
    T* img = dx + b * g.h * g.w * c;
    std::fill(img, img + g.h * g.w * c, T(0));
    for (int64_t i = 0; i < g.oh; ++i)
      for (int64_t j = 0; j < g.ow; ++j) {
        const T* row = col + ((b * g.oh + i) * g.ow + j) * patch;
        const int64_t y0 = i * g.stride_h - g.pad_top, x0 = j * g.stride_w - g.pad_left;
        for (int64_t p = 0; p < g.kh; ++p) {
          const int64_t y = y0 + p;
          if (y < 0 || y >= g.h) continue;
          const T* src = row + p * kwc;
          T* dst = img + y * g.w * c;
          if (x0 >= 0 && x0 + g.kw <= g.w) {
            T* d = dst + x0 * c;
            for (int64_t e = 0; e < kwc; ++e) d[e] += src[e];
            continue;
          }
          for (int64_t q = 0; q < g.kw; ++q) {
            const int64_t xx = x0 + q;
            if (xx < 0 || xx >= g.w) continue;
            T* d = dst + xx * c;
            for (int64_t e = 0; e < c; ++e) d[e] += src[q * c + e];
          }
        }
      }
  });
}

}  // namespace

int64_t conv2d_scratch_elements(const Conv2DGeometry& g, int64_t element_bytes) {
  if (!needs_im2col(g)) return 0;
  return chunk_images(g, element_bytes) * g.oh * g.ow * g.patch();
}

template <typename T>
void conv2d(const Conv2DGeometry& g, const T* x, const T* filter, T* y, T* scratch, GemmEpilogue<T> epilogue) {
  const int64_t patch = g.patch(), pixels = g.oh * g.ow;
  if (!needs_im2col(g)) {
    gemm<T>(false, false, g.n * pixels, g.f, patch, T(1), x, patch, filter, g.f, T(0), y, g.f, epilogue);
    return;
  }
  const int64_t chunk = chunk_images(g, sizeof(T));
  for (int64_t b = 0; b < g.n; b += chunk) {
    const int64_t images = std::min(chunk, g.n - b);
    T* out = y + b * pixels * g.f;
    im2col(g, images, x + b * g.h * g.w * g.c, scratch);
    gemm<T>(false, false, images * pixels, g.f, patch, T(1), scratch, patch, filter, g.f, T(0), out, g.f, epilogue);
  }
}

template <typename T>
void conv2d_backprop_input(const Conv2DGeometry& g, const T* filter, const T* dy, T* dx, T* scratch) {
  const int64_t patch = g.patch(), pixels = g.oh * g.ow;
  if (!needs_im2col(g)) {
    gemm<T>(false, true, g.n * pixels, patch, g.f, T(1), dy, g.f, filter, g.f, T(0), dx, patch);
    return;
  }
  const int64_t chunk = chunk_images(g, sizeof(T));
  for (int64_t b = 0; b < g.n; b += chunk) {
    const int64_t images = std::min(chunk, g.n - b);
    gemm<T>(false, true, images * pixels, patch, g.f, T(1), dy + b * pixels * g.f, g.f, filter, g.f, T(0), scratch, patch);
    col2im(g, images, scratch, dx + b * g.h * g.w * g.c);
  }
}

template <typename T>
void conv2d_backprop_filter(const Conv2DGeometry& g, const T* x, const T* dy, T* dfilter, T* scratch) {
  const int64_t patch = g.patch(), pixels = g.oh * g.ow;
  if (!needs_im2col(g)) {
    gemm<T>(true, false, patch, g.f, g.n * pixels, T(1), x, patch, dy, g.f, T(0), dfilter, g.f);
    return;
  }
  if (g.n == 0 || pixels == 0) {  // no output pixel: no term reaches the filter
    std::fill(dfilter, dfilter + patch * g.f, T(0));
    return;
  }
  const int64_t chunk = chunk_images(g, sizeof(T));
  for (int64_t b = 0; b < g.n; b += chunk) {
    const int64_t images = std::min(chunk, g.n - b);
    im2col(g, images, x + b * g.h * g.w * g.c, scratch);
    gemm<T>(true, false, patch, g.f, images * pixels, T(1), scratch, patch, dy + b * pixels * g.f, g.f,
            b == 0 ? T(0) : T(1), dfilter, g.f);
  }
}

#define KILN_CONV_INSTANTIATE(T)                                                                    \
  template void conv2d<T>(const Conv2DGeometry&, const T*, const T*, T*, T*, GemmEpilogue<T>);       \
  template void conv2d_backprop_input<T>(const Conv2DGeometry&, const T*, const T*, T*, T*);       \
  template void conv2d_backprop_filter<T>(const Conv2DGeometry&, const T*, const T*, T*, T*);
KILN_CONV_INSTANTIATE(float)
KILN_CONV_INSTANTIATE(double)
#undef KILN_CONV_INSTANTIATE

}  // namespace kiln::kernels

namespace kiln {
namespace {
// The geometry of an op from its input shape, filter shape and attributes, shapes already
// checked by the shape rule.
Conv2DGeometry geometry(const Shape& x, const Shape& filter, const OpAttrs& attrs) {
  const Conv2DAttrs& a = attrs.as<Conv2DAttrs>();
  return conv2d_geometry(x[0], x[1], x[2], x[3], filter[0], filter[1], filter[3], a.stride_h, a.stride_w,
                         a.same_padding);
}

// The im2col buffer, from the storage cache (freed blocks are reused, so steady-state calls do
// not reach malloc).
Tensor scratch_for(const Conv2DGeometry& g, DType dtype) {
  return Tensor::empty({std::max<int64_t>(kernels::conv2d_scratch_elements(g, dtype_size(dtype)), 1)}, dtype);
}
}  // namespace

void cpu_Conv2D(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const Conv2DGeometry g = geometry(in[0].shape(), in[1].shape(), attrs);
  Tensor scratch = scratch_for(g, out.dtype());
  KILN_DISPATCH_FLOAT(out.dtype(), T,
                      kernels::conv2d<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>(), scratch.data<T>()));
}

void cpu_Conv2DBackpropInput(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const Conv2DGeometry g = geometry(attrs.as<Conv2DAttrs>().input_shape, in[0].shape(), attrs);
  Tensor scratch = scratch_for(g, out.dtype());
  KILN_DISPATCH_FLOAT(out.dtype(), T,
                      kernels::conv2d_backprop_input<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>(), scratch.data<T>()));
}

void cpu_Conv2DBackpropFilter(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const Conv2DGeometry g = geometry(in[0].shape(), attrs.as<Conv2DAttrs>().input_shape, attrs);
  Tensor scratch = scratch_for(g, out.dtype());
  KILN_DISPATCH_FLOAT(out.dtype(), T,
                      kernels::conv2d_backprop_filter<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>(), scratch.data<T>()));
}

}  // namespace kiln
