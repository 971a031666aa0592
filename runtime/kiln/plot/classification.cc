// The confusion-matrix heatmap and prediction grid: layout arithmetic on a Canvas.
#include "kiln/plot/classification.h"

#include <algorithm>

#include "kiln/plot/image.h"

namespace kiln::plot {
namespace {

constexpr int kLabelScale = 2;  // class names and axis titles
constexpr int kPad = 12;

// White (0) to dark blue (1), as matplotlib's "Blues".
Rgb heat(double t) {
  const Rgb lo{247, 251, 255}, hi{8, 48, 107};
  auto mix = [t](uint8_t a, uint8_t b) { return static_cast<uint8_t>(a + (b - a) * t + 0.5); };
  return {mix(lo.r, hi.r), mix(lo.g, hi.g), mix(lo.b, hi.b)};
}

std::vector<int64_t> class_ids(const Tensor& t, const char* op, const char* what) {
  KILN_CHECK(t.defined() && !t.is_symbolic(), op, ": ", what, " has no value");
  KILN_CHECK(is_integer(t.dtype()), op, ": ", what, " must be int32 or int64, got ", dtype_name(t.dtype()));
  return t.to_vector<int64_t>();
}

void draw_centered(Canvas& canvas, int cx, int y, const std::string& text, Rgb color, int scale) {
  canvas.draw_text(cx - Canvas::text_size(text, scale).first / 2, y, text, color, scale);
}

}  // namespace

void write_confusion_png(const std::string& path, const Tensor& counts, const std::vector<std::string>& class_names) {
  const char* op = "write_confusion_png";
  KILN_CHECK(counts.defined() && counts.rank() == 2 && counts.dim(0) == counts.dim(1) && counts.dim(0) > 0, op, ": ",
             path, ": counts must be [K, K], got ", counts.defined() ? counts.shape().str() : "an undefined tensor");
  const std::vector<int64_t> values = class_ids(counts, op, "counts");
  const int k = static_cast<int>(counts.dim(0));
  KILN_CHECK(k <= 100, op, ": ", path, ": ", k, " classes, at most 100 fit a figure");
  KILN_CHECK(class_names.empty() || class_names.size() == static_cast<size_t>(k), op, ": ", path, ": ",
             class_names.size(), " class names for ", k, " classes");
  std::vector<std::string> names = class_names;
  for (int i = 0; names.size() < static_cast<size_t>(k); ++i) names.push_back(std::to_string(i));
  int64_t max_count = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    KILN_CHECK(values[i] >= 0, op, ": ", path, ": count [", i / k, ",", i % k, "] is negative: ", values[i]);
    max_count = std::max(max_count, values[i]);
  }

  int name_width = 0;
  for (const std::string& name : names) name_width = std::max(name_width, Canvas::text_size(name, kLabelScale).first);
  const int line = Canvas::text_size("X", kLabelScale).second;
  const int cell = std::max(56, Canvas::text_size(std::to_string(max_count), kLabelScale).first + 8);
  const bool stagger = name_width > cell - 4;
  const int left = kPad + name_width + kPad;
  const int top = kPad + line + 4 + line * (stagger ? 2 : 1) + 4;  // "predicted", then the column names
  const int right = kPad + std::max(0, name_width / 2 - cell / 2);  // room for the last column's name
  Canvas canvas(left + k * cell + right, top + k * cell + kPad);

  draw_centered(canvas, left + k * cell / 2, kPad, "predicted", kBlack, kLabelScale);
  canvas.draw_text(kPad, kPad, "true", kBlack, kLabelScale);
  for (int j = 0; j < k; ++j) {
    const int y = kPad + line + 4 + (stagger && j % 2 ? line : 0);
    draw_centered(canvas, left + j * cell + cell / 2, y, names[j], kBlack, kLabelScale);
  }
  for (int i = 0; i < k; ++i) {
    canvas.draw_text(left - kPad - Canvas::text_size(names[i], kLabelScale).first, top + i * cell + (cell - line) / 2 + 2,
                     names[i], kBlack, kLabelScale);
    for (int j = 0; j < k; ++j) {
      const int64_t count = values[static_cast<size_t>(i) * k + j];
      const double t = max_count > 0 ? static_cast<double>(count) / max_count : 0.0;
      canvas.fill_rect(left + j * cell, top + i * cell, cell, cell, heat(t));
      draw_centered(canvas, left + j * cell + cell / 2, top + i * cell + (cell - line) / 2 + 2, std::to_string(count),
                    t > 0.5 ? kWhite : kBlack, kLabelScale);
    }
  }
  canvas.draw_frame(left - 1, top - 1, k * cell + 2, k * cell + 2, 1, kBlack);
  canvas.write_png(path);
}

void write_confusion_png(const std::string& path, const metrics::ConfusionMatrix& matrix,
                         const std::vector<std::string>& class_names) {
  write_confusion_png(path, matrix.result(), class_names);
}

void write_predictions_png(const std::string& path, const Tensor& images, const Tensor& labels,
                           const Tensor& predictions, const std::vector<std::string>& class_names, int n) {
  const char* op = "write_predictions_png";
  KILN_CHECK(images.defined() && !images.is_symbolic() && images.dtype() == DType::Float32 && images.rank() == 4 &&
                 images.dim(3) == 1 && images.dim(0) > 0,
             op, ": ", path, ": images must be float32 [N, H, W, 1] with N > 0, got ",
             images.defined() ? images.type_str() : "an undefined tensor");
  KILN_CHECK(n >= 1, op, ": ", path, ": n must be >= 1, got ", n);
  const std::vector<int64_t> y = class_ids(labels, op, "labels");
  const std::vector<int64_t> pred = class_ids(predictions, op, "predictions");
  const int64_t count = images.dim(0);
  KILN_CHECK(labels.rank() == 1 && labels.dim(0) == count && predictions.rank() == 1 && predictions.dim(0) == count,
             op, ": ", path, ": labels ", labels.shape().str(), " and predictions ", predictions.shape().str(),
             " must both be [", count, "], one per image");
  const int shown = static_cast<int>(std::min<int64_t>(n, count));
  for (int i = 0; i < shown; ++i)
    KILN_CHECK(y[i] >= 0 && y[i] < static_cast<int64_t>(class_names.size()) && pred[i] >= 0 &&
                   pred[i] < static_cast<int64_t>(class_names.size()),
               op, ": ", path, ": image ", i, " has label ", y[i], " and prediction ", pred[i], ", but there are ",
               class_names.size(), " class names");

  const int rows = static_cast<int>(images.dim(1)), cols = static_cast<int>(images.dim(2));
  const int zoom = rows <= 64 && cols <= 64 ? 4 : 1;
  const int line = Canvas::text_size("X").second;
  int title_width = 0;
  for (int i = 0; i < shown; ++i)
    title_width = std::max({title_width, Canvas::text_size("y: " + class_names[y[i]]).first,
                            Canvas::text_size("pred: " + class_names[pred[i]]).first});
  const int tile_w = std::max(cols * zoom, title_width) + 2 * kPad;
  const int tile_h = 2 * line + 4 + rows * zoom + 2 * kPad;
  const int grid_cols = std::min(6, shown), grid_rows = (shown + 5) / 6;
  Canvas canvas(grid_cols * tile_w, grid_rows * tile_h);
  const float* pixels = images.data<float>();
  for (int i = 0; i < shown; ++i) {
    const int x = (i % 6) * tile_w, top = (i / 6) * tile_h;
    const bool wrong = y[i] != pred[i];
    const Rgb color = wrong ? kRed : kBlack;
    draw_centered(canvas, x + tile_w / 2, top + kPad / 2 + 2, "y: " + class_names[y[i]], color, 1);
    draw_centered(canvas, x + tile_w / 2, top + kPad / 2 + 2 + line, "pred: " + class_names[pred[i]], color, 1);
    const int ix = x + (tile_w - cols * zoom) / 2, iy = top + kPad / 2 + 2 * line + 6;
    canvas.blit_gray(ix, iy, pixels + static_cast<size_t>(i) * rows * cols, rows, cols, zoom);
    if (wrong) canvas.draw_frame(ix - 3, iy - 3, cols * zoom + 6, rows * zoom + 6, 3, kRed);
  }
  canvas.write_png(path);
}

}  // namespace kiln::plot
