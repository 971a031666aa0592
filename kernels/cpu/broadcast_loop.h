// broadcast_loop: walks N inputs broadcast (numpy rules) against an output shape, one innermost
// row at a time, so kernels write a plain strided inner loop the compiler can vectorize.
#pragma once
#include <array>

#include "kiln/shape.h"

namespace kiln::cpu {

/// Calls `row(offsets, n, inner_strides)` for each innermost row of `out`: offsets[k] is the
/// element offset of input k at the row's start, and inner_strides[k] is 0 (broadcast) or 1.
template <int N, typename Row>
void broadcast_loop(const Shape& out, const std::array<const Shape*, N>& ins, Row row) {
  const int r = out.rank();
  int64_t strides[N][kMaxRank] = {};
  for (int k = 0; k < N; ++k) {
    const Shape& s = *ins[k];
    int64_t stride = 1;
    for (int d = r - 1, e = s.rank() - 1; d >= 0; --d, --e) {
      int64_t size = e >= 0 ? s[e] : 1;
      strides[k][d] = (size == 1) ? 0 : stride;
      stride *= size;
    }
  }
  std::array<int64_t, N> off{}, inner{};
  if (r == 0) {
    row(off, int64_t{1}, inner);
    return;
  }
  const int64_t n = out[r - 1];
  if (n == 0 || out.num_elements() == 0) return;
  for (int k = 0; k < N; ++k) inner[k] = strides[k][r - 1];
  const int64_t outer = out.num_elements() / n;
  int64_t idx[kMaxRank] = {};
  for (int64_t o = 0; o < outer; ++o) {
    row(off, n, inner);
    for (int d = r - 2; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace kiln::cpu
