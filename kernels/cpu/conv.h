// Raw-pointer 2-D convolution kernels (im2col + kiln::kernels::gemm): what eager conv2d and its
// backprops run, and what compiled code calls (compiler/kiln/compiler/JitKernels.cc).
#pragma once
#include <cstdint>

#include "kernels/cpu/gemm.h"

namespace kiln::kernels {

/// The geometry of a 2-D convolution in TF's layouts: input x [n,h,w,c] (NHWC), filter
/// [kh,kw,c,f] (HWIO), output y [n,oh,ow,f]:
///   y[b,i,j,o] = sum_{p,q,k} x[b, i*stride_h + p - pad_top, j*stride_w + q - pad_left, k] * filter[p,q,k,o]
/// with x read as 0 outside [0,h) x [0,w).
struct Conv2DGeometry {
  int64_t n = 0, h = 0, w = 0, c = 0;  ///< input
  int64_t kh = 0, kw = 0, f = 0;       ///< filter (its depth is c)
  int64_t stride_h = 1, stride_w = 1;
  int64_t oh = 0, ow = 0;              ///< output
  int64_t pad_top = 0, pad_left = 0;   ///< zero rows (columns) before the input
  /// Length of one im2col row: kh*kw*c.
  int64_t patch() const { return kh * kw * c; }
};

/// TF's padding rules (dilation 1): oh and pad_top are window_extent(h, kh, stride_h,
/// same_padding) (kiln/core/window_padding.h), likewise for the width; the caller checks kh <= h
/// for "valid".
Conv2DGeometry conv2d_geometry(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, int64_t f,
                               int64_t stride_h, int64_t stride_w, bool same_padding);

/// Elements of the scratch buffer every kernel below needs: the im2col matrix of one chunk of
/// images (chunks keep it near 8 MB whatever the batch); 0 when no im2col is needed (1x1
/// filters, stride 1, no padding).
int64_t conv2d_scratch_elements(const Conv2DGeometry& g, int64_t element_bytes);

/// y = conv2d(x, filter), then `epilogue` on every output row of f channels (bias[o] added to
/// channel o, then relu): applied by the GEMM of each chunk of images to each finished panel,
/// while it is in cache (compiled code's contraction epilogues, Note [Contraction epilogues] in
/// compiler/kiln/compiler/passes/ContractionsToCalls.cc), rounded as the separate ops round.
/// `scratch` holds conv2d_scratch_elements(g, sizeof(T)) elements.
template <typename T>
void conv2d(const Conv2DGeometry& g, const T* x, const T* filter, T* y, T* scratch, GemmEpilogue<T> epilogue = {});

/// dx = d(sum(conv2d(x, filter) * dy))/dx: [n,h,w,c] from dy [n,oh,ow,f] (GEMM with the filter
/// transposed, then col2im: the patches' contributions added back into the image).
template <typename T>
void conv2d_backprop_input(const Conv2DGeometry& g, const T* filter, const T* dy, T* dx, T* scratch);

/// dfilter = d(sum(conv2d(x, filter) * dy))/dfilter: [kh,kw,c,f] = im2col(x)^T dy summed over
/// chunks of images.
template <typename T>
void conv2d_backprop_filter(const Conv2DGeometry& g, const T* x, const T* dy, T* dfilter, T* scratch);

}  // namespace kiln::kernels
