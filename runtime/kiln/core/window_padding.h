// TF's "valid" and "same" padding for one spatial dim of a sliding window (dilation 1): one
// definition for the convolutions (kernels/cpu/conv.h) and the pooling ops (pool_geometry.h).
#pragma once
#include <algorithm>
#include <cstdint>

namespace kiln {

/// Where windows of `window` elements, `stride` apart, lie over `size` input elements.
struct WindowExtent {
  int64_t out = 0;         ///< the number of windows
  int64_t pad_before = 0;  ///< padding elements before the input (the odd one goes after)
};

/// valid: out = (size - window) / stride + 1 (0 when size < window), no padding;
/// same:  out = ceil(size / stride), total padding max((out - 1) stride + window - size, 0),
///        pad_before = total / 2.
inline WindowExtent window_extent(int64_t size, int64_t window, int64_t stride, bool same) {
  WindowExtent e;
  if (same) {
    e.out = (size + stride - 1) / stride;
    e.pad_before = std::max<int64_t>((e.out - 1) * stride + window - size, 0) / 2;
  } else {
    e.out = size >= window ? (size - window) / stride + 1 : 0;
  }
  return e;
}

}  // namespace kiln
