// The article's CNN training step (Conv2D 20 5x5, Conv2D 50 5x5, Flatten, Dense 500, Dense 500,
// Dense 10; softmax cross-entropy; Adam) for kiln-bench --model cnn: its per-step cases are
// Google Benchmark cases in cnn_bench.cc, run at the batch set here.
#pragma once
#include <cstdint>

namespace kiln::bench {

/// The batch size the CNN cases run at (before run_medians).
void set_cnn_batch(int64_t batch);

/// Training FLOPs of one CNN step on `batch` 28x28x1 images: 2 x the forward pass's multiply-adds
/// x 3 (forward, and the backward's two products per contraction).
double cnn_step_flops(int64_t batch);

/// Wall time, in milliseconds, of the first call of a fresh kiln::function around the CNN step at
/// `batch`: the trace, the compile (or the disk cache's load) and one run of the step. For a
/// fresh process (`kiln-bench --first-call-ms --model cnn --batch N`).
double cnn_first_call_ms(int64_t batch);

}  // namespace kiln::bench
