// PNG figures for a classifier: a confusion-matrix heatmap and a grid of predicted images.
#pragma once
#include <string>
#include <vector>

#include "kiln/metrics/confusion_matrix.h"
#include "kiln/tensor.h"

namespace kiln::plot {

/// Writes a heatmap of `counts` (int32 or int64 [K, K]; rows are true labels, columns
/// predictions, as ConfusionMatrix::result()) to `path`: each cell's blue deepens with its count
/// (the largest count is the darkest, 0 is white) and shows the count (dark text on light cells,
/// light on dark). Rows are labelled with `class_names` under the axis title "true", columns
/// above the grid under "predicted" (staggered over two lines when a name is wider than a cell).
/// Empty `class_names` labels classes 0..K-1. kiln::Error for another shape or dtype, a negative
/// count, class_names of another length, or a file that cannot be written.
void write_confusion_png(const std::string& path, const Tensor& counts, const std::vector<std::string>& class_names);
/// The same for a ConfusionMatrix's counts.
void write_confusion_png(const std::string& path, const metrics::ConfusionMatrix& matrix,
                         const std::vector<std::string>& class_names);

/// Writes the first `n` images of `images` (float32 [N, H, W, 1], values in [0, 1]) to `path` as
/// a grid six columns wide, each image upscaled 4x (up to 64x64 inputs; larger ones 1x) under a
/// two-line title "y: <true name>" / "pred: <predicted name>". A wrong prediction has a red title
/// and a red frame. `labels` and `predictions` are int32 or int64 [N] class ids into
/// `class_names`. kiln::Error for wrong shapes or dtypes, an id outside class_names, n < 1 (n
/// above N draws N), or a file that cannot be written.
void write_predictions_png(const std::string& path, const Tensor& images, const Tensor& labels,
                           const Tensor& predictions, const std::vector<std::string>& class_names, int n = 30);

}  // namespace kiln::plot
