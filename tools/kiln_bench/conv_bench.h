// The convolution cases of kiln-bench (conv_bench.cc): the article CNN's two conv layers.
#pragma once
#include <cstdint>
#include <vector>

#include "kiln/shape.h"

namespace kiln::bench {

/// One conv layer's shapes: input x [N,H,W,C] and filter [KH,KW,C,F] ("valid", stride 1).
struct ConvShape {
  const char* name;
  Shape x, filter;
};
/// conv1: x [128,28,28,1], filter [5,5,1,20]; conv2: x [128,24,24,20], filter [5,5,20,50].
const std::vector<ConvShape>& conv_shapes();
/// The ops' names, in case order: conv2d, conv2d_backprop_input, conv2d_backprop_filter.
extern const char* const kConvOps[3];
/// Floating-point work of each of the three ops at `s`: 2 N OH OW KH KW C F / 1e9 (GFLOP).
double conv_gflop(const ConvShape& s);

}  // namespace kiln::bench
