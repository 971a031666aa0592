// CPU kernels of max_pool2d, avg_pool2d and their gradient ops on NHWC tensors: plain loops over
// each window's real elements with the channels innermost (contiguous, so the compiler
// vectorizes them), the window geometry from kiln/core/pool_geometry.h.
//
// Note [Window maximum]
// A window's maximum starts at -inf with no position; each real element, in row-major window
// order, is taken when there is no position yet, when it is greater than the maximum so far, or
// when it is the first NaN:
//   take = pos < 0 || v > best || (v != v && best == best)
// So the value is the window's max, NaN when the window holds a NaN (as reduce_max), and the
// position is the FIRST maximum in row-major order (TF's MaxPoolGrad; the first NaN where there
// is one; the first element of an all -inf window). max_pool2d_grad sends each window's dy to
// that position, max_pool2d_grad_grad reads g there. The compiled lowerings
// (compiler/kiln/compiler/GraphToLinalgPool.cc) apply the same rule in the same order, and
// accumulate gradients in the same (window row-major) order, so compiled results are eager's to
// the bit.
#include <algorithm>
#include <limits>
#include <vector>

#include "kiln/core/op_def.h"
#include "kiln/core/pool_geometry.h"

namespace kiln {
namespace {

// Calls window(b, oh_i, ow_j, rows [r0, r1), cols [c0, c1)) for every output position.
template <typename Window>
void for_each_window(const PoolGeometry& g, Window window) {
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t i = 0; i < g.oh; ++i) {
      int64_t r0, r1;
      g.row_range(i, &r0, &r1);
      for (int64_t j = 0; j < g.ow; ++j) {
        int64_t c0, c1;
        g.col_range(j, &c0, &c1);
        window(b, i, j, r0, r1, c0, c1);
      }
    }
}

// Offsets of an NHWC element (in elements): input x[b, r, col, 0] and output y[b, i, j, 0].
inline int64_t in_offset(const PoolGeometry& g, int64_t b, int64_t r, int64_t col) { return ((b * g.h + r) * g.w + col) * g.c; }
inline int64_t out_offset(const PoolGeometry& g, int64_t b, int64_t i, int64_t j) { return ((b * g.oh + i) * g.ow + j) * g.c; }

// Note [Overlapping channel tail]
// The channel loops are short (20 channels after the CNN's first convolution) and their trip
// count is known only at run time: the compiler vectorizes 16 channels and leaves the rest to
// scalar code, whose data-dependent branches (v > m, NaN checks) measured most of max_pool2d's
// time. over_channels runs a step on fixed blocks of kLanes channels (a constant trip count: one
// vector operation) and covers a remainder with one more block that ends at C, overlapping the
// block before. That is only right for steps that change nothing when applied twice to the same
// input: the running maximum and the first-maximum update of Note [Window maximum] are (v > v is
// false, and a NaN maximum takes no second NaN). Sums are not, so avg_pool2d keeps plain loops.
template <typename T, typename Block>
inline void over_channels(int64_t C, Block block) {
  constexpr int64_t kLanes = 64 / sizeof(T);
  if (C < kLanes) return block(0, C);
  int64_t k = 0;
  for (; k + kLanes <= C; k += kLanes) block(k, kLanes);
  if (k < C) block(C - kLanes, kLanes);
}

// o = max(o, px) over n channels with Note [Window maximum]'s value rule (bitwise, no branch).
template <typename T>
inline void running_max(T* __restrict o, const T* __restrict px, int64_t n) {
#pragma GCC unroll 1  // vectorized, not unrolled into scalar code first (Note [Overlapping channel tail])
  for (int64_t k = 0; k < n; ++k) {
    const T v = px[k], m = o[k];
    o[k] = ((v > m) | (v != v)) ? v : m;
  }
}

// Note [Window maximum]'s first-maximum update over n channels, the element at input offset `at`.
template <typename T>
inline void first_max_update(T* __restrict best, int64_t* __restrict pos, const T* __restrict px, int64_t at, int64_t n) {
#pragma GCC unroll 1
  for (int64_t k = 0; k < n; ++k) {
    const T v = px[k], m = best[k];
    const bool take = (v > m) | ((v != v) & (m == m));
    best[k] = take ? v : m;
    pos[k] = take ? at + k : pos[k];
  }
}

// Each channel's first maximum of window (b, rows, cols) as an input offset (Note [Window
// maximum]), into pos[0..C), its value into best. The first real element is taken as it comes
// (no position yet); the later ones go through first_max_update.
template <typename T>
void window_argmax(const PoolGeometry& g, const T* x, int64_t b, int64_t r0, int64_t r1, int64_t c0, int64_t c1, T* best,
                   int64_t* pos) {
  const int64_t C = g.c;
  const int64_t at0 = in_offset(g, b, r0, c0);
  for (int64_t k = 0; k < C; ++k) best[k] = x[at0 + k], pos[k] = at0 + k;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t col = r == r0 ? c0 + 1 : c0; col < c1; ++col) {
      const int64_t at = in_offset(g, b, r, col);
      over_channels<T>(C, [&](int64_t k, int64_t n) { first_max_update(best + k, pos + k, x + at + k, at + k, n); });
    }
}

}  // namespace

void cpu_MaxPool2D(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(in[0].shape(), attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    T* y = out.data<T>();
    const int64_t C = g.c;
    // The value of Note [Window maximum]'s rule (without positions: v > best or v is NaN).
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      T* o = y + out_offset(g, b, i, j);
      for (int64_t k = 0; k < C; ++k) o[k] = -std::numeric_limits<T>::infinity();
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t col = c0; col < c1; ++col) {
          const T* px = x + in_offset(g, b, r, col);
          over_channels<T>(C, [&](int64_t k, int64_t n) { running_max(o + k, px + k, n); });
        }
    });
  });
}

// Sums in T, in row-major window order, then divides by the window's count of real elements.
void cpu_AvgPool2D(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(in[0].shape(), attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    T* y = out.data<T>();
    const int64_t C = g.c;
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      T* o = y + out_offset(g, b, i, j);
      for (int64_t k = 0; k < C; ++k) o[k] = T{0};
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t col = c0; col < c1; ++col) {
          const T* px = x + in_offset(g, b, r, col);
          for (int64_t k = 0; k < C; ++k) o[k] += px[k];
        }
      const T count = static_cast<T>((r1 - r0) * (c1 - c0));
      for (int64_t k = 0; k < C; ++k) o[k] /= count;
    });
  });
}

// (x, y, dy) -> dx: windows in row-major order, each adding its dy at its first maximum.
void cpu_MaxPool2DGrad(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(in[0].shape(), attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    const T* dy = in[2].data<T>();
    T* dx = out.data<T>();
    std::fill(dx, dx + out.num_elements(), T{0});
    std::vector<T> best(static_cast<size_t>(g.c));
    std::vector<int64_t> pos(static_cast<size_t>(g.c));
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      window_argmax(g, x, b, r0, r1, c0, c1, best.data(), pos.data());
      const T* d = dy + out_offset(g, b, i, j);
      for (int64_t k = 0; k < g.c; ++k) dx[pos[static_cast<size_t>(k)]] += d[k];
    });
  });
}

// (x, y, g) -> [N,OH,OW,C]: g at each window's first maximum.
void cpu_MaxPool2DGradGrad(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(in[0].shape(), attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    const T* gin = in[2].data<T>();
    T* o = out.data<T>();
    std::vector<T> best(static_cast<size_t>(g.c));
    std::vector<int64_t> pos(static_cast<size_t>(g.c));
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      window_argmax(g, x, b, r0, r1, c0, c1, best.data(), pos.data());
      T* po = o + out_offset(g, b, i, j);
      for (int64_t k = 0; k < g.c; ++k) po[k] = gin[pos[static_cast<size_t>(k)]];
    });
  });
}

// (dy) -> dx: windows in row-major order, each adding dy / count to its real elements.
void cpu_AvgPool2DGrad(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(attrs.shape, attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* dy = in[0].data<T>();
    T* dx = out.data<T>();
    std::fill(dx, dx + out.num_elements(), T{0});
    std::vector<T> share(static_cast<size_t>(g.c));
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      const T count = static_cast<T>((r1 - r0) * (c1 - c0));
      const T* d = dy + out_offset(g, b, i, j);
      for (int64_t k = 0; k < g.c; ++k) share[static_cast<size_t>(k)] = d[k] / count;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t col = c0; col < c1; ++col) {
          T* px = dx + in_offset(g, b, r, col);
          for (int64_t k = 0; k < g.c; ++k) px[k] += share[static_cast<size_t>(k)];
        }
    });
  });
}

}  // namespace kiln
