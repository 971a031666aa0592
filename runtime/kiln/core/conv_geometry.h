// Conv2DGeometry: the window arithmetic of conv2d and its backprops (TF's layouts and "valid" /
// "same" padding), one definition for their shape rule, CPU kernels (kernels/cpu/conv.h) and
// compiled lowerings, as pool_geometry.h is for the pooling ops.
#pragma once
#include <cstdint>

#include "kiln/core/window_padding.h"

namespace kiln {

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
/// same_padding) (window_padding.h), likewise for the width; the caller checks kh <= h for
/// "valid".
inline Conv2DGeometry conv2d_geometry(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, int64_t f,
                                      int64_t stride_h, int64_t stride_w, bool same_padding) {
  Conv2DGeometry g;
  g.n = n, g.h = h, g.w = w, g.c = c, g.kh = kh, g.kw = kw, g.f = f, g.stride_h = stride_h, g.stride_w = stride_w;
  const WindowExtent rows = window_extent(h, kh, stride_h, same_padding);
  const WindowExtent cols = window_extent(w, kw, stride_w, same_padding);
  g.oh = rows.out, g.pad_top = rows.pad_before;
  g.ow = cols.out, g.pad_left = cols.pad_before;
  return g;
}

}  // namespace kiln
