// CPU kernels of max_pool2d, avg_pool2d and their gradient ops on NHWC tensors: loops over each
// window's real elements with the channels innermost (contiguous, in vector-sized blocks: Note
// [Channel blocks]), the window geometry from kiln/core/pool_geometry.h.
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
// (compiler/kiln/compiler/GraphToLinalgPool.cc) apply the same rule in the same order, and add
// up sums and gradients in the same (window row-major) order, so both round alike.
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

// Note [Channel blocks]
// The channel loops are short (20 channels after the CNN's first convolution) and their trip
// count is known only at run time: the compiler vectorizes 16 channels and leaves the rest to
// scalar code, whose data-dependent branches (v > m, NaN checks) measured most of max_pool2d's
// time. So a window is computed in blocks of kLanes channels (a constant trip count: one vector
// operation per step), each block's accumulators held in a local array over the whole window
// and stored once; a remainder of channels is one more block that ends at C, overlapping the
// block before. Each block starts from scratch, so the overlapped channels are computed twice to
// the same values (and written twice). Keeping the accumulators local matters as much: running
// them through the output, an overlapping block's load straddled the previous block's store,
// which the CPU cannot forward (measured: the load stalled on it). Fewer than kLanes channels go
// as one block of C.
template <typename T>
inline constexpr int64_t kLanes = 64 / static_cast<int64_t>(sizeof(T));

template <typename T, typename Block>
inline void over_channel_blocks(int64_t C, Block block) {
  if (C < kLanes<T>) return block(0, C);
  int64_t k = 0;
  for (; k + kLanes<T> <= C; k += kLanes<T>) block(k, kLanes<T>);
  if (k < C) block(C - kLanes<T>, kLanes<T>);
}

// m = max(m, px) over n channels with Note [Window maximum]'s value rule (bitwise, no branch).
template <typename T>
inline void running_max(T* __restrict m, const T* __restrict px, int64_t n) {
#pragma GCC unroll 1  // vectorized, not first unrolled into scalar code (Note [Channel blocks])
  for (int64_t k = 0; k < n; ++k) {
    const T v = px[k];
    m[k] = ((v > m[k]) | (v != v)) ? v : m[k];
  }
}

template <typename T>
inline void running_sum(T* __restrict s, const T* __restrict px, int64_t n) {
#pragma GCC unroll 1
  for (int64_t k = 0; k < n; ++k) s[k] += px[k];
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
// maximum]), into pos[0..C). The first real element is taken as it comes (no position yet); the
// later ones go through first_max_update.
template <typename T>
void window_argmax(const PoolGeometry& g, const T* x, int64_t b, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                   int64_t* pos) {
  const int64_t at0 = in_offset(g, b, r0, c0);
  over_channel_blocks<T>(g.c, [&](int64_t k0, int64_t n) {
    T best[kLanes<T>];
    int64_t p[kLanes<T>];
    for (int64_t k = 0; k < n; ++k) best[k] = x[at0 + k0 + k], p[k] = at0 + k0 + k;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t col = r == r0 ? c0 + 1 : c0; col < c1; ++col) {
        const int64_t at = in_offset(g, b, r, col) + k0;
        first_max_update(best, p, x + at, at, n);
      }
    for (int64_t k = 0; k < n; ++k) pos[k0 + k] = p[k];
  });
}

}  // namespace

void cpu_MaxPool2D(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(in[0].shape(), attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    T* y = out.data<T>();
    // The value of Note [Window maximum]'s rule (without positions: v > best or v is NaN).
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      T* o = y + out_offset(g, b, i, j);
      over_channel_blocks<T>(g.c, [&](int64_t k0, int64_t n) {
        T m[kLanes<T>];
        for (int64_t k = 0; k < n; ++k) m[k] = -std::numeric_limits<T>::infinity();
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t col = c0; col < c1; ++col) running_max(m, x + in_offset(g, b, r, col) + k0, n);
        for (int64_t k = 0; k < n; ++k) o[k0 + k] = m[k];
      });
    });
  });
}

// Sums in T, in row-major window order, then divides by the window's count of real elements.
void cpu_AvgPool2D(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(in[0].shape(), attrs);
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = in[0].data<T>();
    T* y = out.data<T>();
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      T* o = y + out_offset(g, b, i, j);
      const T count = static_cast<T>((r1 - r0) * (c1 - c0));
      over_channel_blocks<T>(g.c, [&](int64_t k0, int64_t n) {
        T s[kLanes<T>];
        for (int64_t k = 0; k < n; ++k) s[k] = T{0};
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t col = c0; col < c1; ++col) running_sum(s, x + in_offset(g, b, r, col) + k0, n);
        for (int64_t k = 0; k < n; ++k) o[k0 + k] = s[k] / count;
      });
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
    std::vector<int64_t> pos(static_cast<size_t>(g.c));
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      window_argmax(g, x, b, r0, r1, c0, c1, pos.data());
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
    std::vector<int64_t> pos(static_cast<size_t>(g.c));
    for_each_window(g, [&](int64_t b, int64_t i, int64_t j, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      window_argmax(g, x, b, r0, r1, c0, c1, pos.data());
      T* po = o + out_offset(g, b, i, j);
      for (int64_t k = 0; k < g.c; ++k) po[k] = gin[pos[static_cast<size_t>(k)]];
    });
  });
}

// (dy) -> dx: windows in row-major order, each adding dy / count to its real elements.
void cpu_AvgPool2DGrad(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const PoolGeometry g = PoolGeometry::of(attrs.as<Pool2DAttrs>().input_shape, attrs);
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
