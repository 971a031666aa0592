// Raw-pointer 2-D convolution kernels (im2col + kiln::kernels::gemm): what eager conv2d and its
// backprops run, and what compiled code calls (kernels/cpu/jit/conv_calls.cc).
#pragma once
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "kiln/core/conv_geometry.h"

namespace kiln::kernels {

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
