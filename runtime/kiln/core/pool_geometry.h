// PoolGeometry: the window arithmetic of the pooling ops (TF's "valid" and "same" padding), one
// definition for their shape rules, CPU kernels and compiled lowerings.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kiln/core/op_attrs.h"
#include "kiln/core/window_padding.h"

namespace kiln {

/// Where the windows of a pooling op over x [N,H,W,C] lie (its Pool2DAttrs: window kh x kw,
/// strides sh, sw, "same" or "valid" padding). Window (i, j) covers input rows
/// [i*sh - pad_top, i*sh - pad_top + kh) and columns [j*sw - pad_left, j*sw - pad_left + kw);
/// positions outside [0,H) x [0,W) are padding; OH, pad_top (OW, pad_left) follow TF's padding
/// rule, window_extent(H, kh, sh, same) (window_padding.h).
/// Every window of a same-padded pool holds at least one real element (the total padding is
/// below kh), so a window's max or mean is always over real values.
struct PoolGeometry {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;
  int64_t oh = 0, ow = 0;
  int64_t pad_top = 0, pad_left = 0;
  bool same = false;

  /// The geometry of `attrs` over an input of shape `x` (rank 4, validated by the shape rule).
  static PoolGeometry of(const Shape& x, const OpAttrs& attrs) {
    PoolGeometry g;
    g.n = x.sym(0), g.h = x[1], g.w = x[2], g.c = x[3];  // n may be a -1 dim (Note [Symbolic dims])
    const Pool2DAttrs& a = attrs.as<Pool2DAttrs>();
    g.kh = a.kh, g.kw = a.kw, g.sh = a.sh, g.sw = a.sw;
    g.same = a.same_padding;
    const WindowExtent rows = window_extent(g.h, g.kh, g.sh, g.same), cols = window_extent(g.w, g.kw, g.sw, g.same);
    g.oh = rows.out, g.pad_top = rows.pad_before;
    g.ow = cols.out, g.pad_left = cols.pad_before;
    return g;
  }
  Shape input_shape() const { return Shape::of_dims({n, h, w, c}); }
  Shape output_shape() const { return Shape::of_dims({n, oh, ow, c}); }
  /// The real input rows [*begin, *end) of window row i (columns: col_range).
  void row_range(int64_t i, int64_t* begin, int64_t* end) const {
    const int64_t start = i * sh - pad_top;
    *begin = std::max<int64_t>(start, 0);
    *end = std::min(start + kh, h);
  }
  void col_range(int64_t j, int64_t* begin, int64_t* end) const {
    const int64_t start = j * sw - pad_left;
    *begin = std::max<int64_t>(start, 0);
    *end = std::min(start + kw, w);
  }
};

}  // namespace kiln
