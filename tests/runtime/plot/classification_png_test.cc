// Canvas, write_confusion_png and write_predictions_png: the PNGs decode to the expected size and
// their pixels depend on what was drawn (counts, titles, wrong predictions).
#include "kiln/plot/classification.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "kiln/data/idx.h"
#include "kiln/plot/image.h"
#include "tests/error_of.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

namespace kiln::plot {
namespace {
using kiln::test::error_of;
using kiln::test::has;

// A decoded RGB PNG.
struct Png {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb at(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  int luminance(int x, int y) const {
    const Rgb p = at(x, y);
    return (p.r + p.g + p.b) / 3;
  }
};

Png decode(const std::string& path) {
  Png png;
  int channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &png.width, &png.height, &channels, 3);
  EXPECT_NE(data, nullptr) << path << ": " << stbi_failure_reason();
  if (data) png.rgb.assign(data, data + static_cast<size_t>(png.width) * png.height * 3);
  stbi_image_free(data);
  return png;
}

// An output path under the test temp dir, removed at the end (KILN_KEEP_PNG=1 keeps it to look at).
class PngPath {
 public:
  explicit PngPath(const std::string& name)
      : path_(testing::TempDir() + "kiln-" + std::to_string(::getpid()) + "-" + name) {}
  ~PngPath() {
    if (!std::getenv("KILN_KEEP_PNG")) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::vector<std::string> kFashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

int count_pixels(const Png& png, int x0, int y0, int x1, int y1, Rgb color) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) n += png.at(x, y) == color;
  return n;
}

TEST(Canvas, TextAndImagesLandWhereDrawn) {
  Canvas canvas(100, 40);
  EXPECT_EQ(canvas.pixel(5, 5), kWhite);
  canvas.draw_text(2, 2, "Hi", kRed, 2);
  const auto [w, h] = Canvas::text_size("Hi", 2);
  int red = 0;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 100; ++x)
      if (canvas.pixel(x, y) == kRed) {
        ++red;
        EXPECT_LT(x, 2 + w);
        EXPECT_LT(y, 2 + h);
      }
  EXPECT_GT(red, 20);
  const float gray[4] = {0.0f, 1.0f, 0.5f, 2.0f};
  canvas.blit_gray(60, 10, gray, 2, 2, 3);
  EXPECT_EQ(canvas.pixel(61, 11), kBlack);
  EXPECT_EQ(canvas.pixel(64, 11), kWhite);
  EXPECT_EQ(canvas.pixel(61, 14), (Rgb{128, 128, 128}));
  EXPECT_EQ(canvas.pixel(65, 15), kWhite) << "values above 1 clamp";
  canvas.fill_rect(-5, -5, 1000, 7, kBlack);  // clipped to rows 0 and 1, not an error
  EXPECT_EQ(canvas.pixel(99, 0), kBlack);
  EXPECT_EQ(canvas.pixel(99, 1), kBlack);
  EXPECT_EQ(canvas.pixel(99, 2), kWhite);
  EXPECT_TRUE(has(error_of([&] { canvas.pixel(100, 0); }), "pixel (100, 0) is outside the 100x40 canvas"));
  EXPECT_TRUE(has(error_of([] { Canvas(0, 5); }), "size 0x5"));
  EXPECT_TRUE(has(error_of([&] { canvas.write_png("/nonexistent/dir/x.png"); }), "/nonexistent/dir/x.png"));
}

TEST(ConfusionPng, CellsDarkenWithTheirCount) {
  std::vector<int32_t> counts(100, 0);
  for (int i = 0; i < 10; ++i) counts[i * 10 + i] = 100 * (i + 1);  // [9,9] is the largest
  counts[0 * 10 + 6] = 250;
  PngPath file("confusion.png");
  write_confusion_png(file.path(), Tensor::from_vector(counts, {10, 10}), kFashion);
  const Png png = decode(file.path());
  ASSERT_GT(png.width, 560);
  ASSERT_GT(png.height, 560);
  // Find the grid by its black frame, on a row just above the bottom edge (below any text).
  const int bottom = png.height - 12, probe = bottom - 3;
  int frame_left = 0, frame_right = png.width - 1;
  while (frame_left < png.width && png.at(frame_left, probe) != kBlack) ++frame_left;
  while (frame_right > 0 && png.at(frame_right, probe) != kBlack) --frame_right;
  const int right = frame_right, cell = (frame_right - frame_left - 1) / 10;
  ASSERT_EQ(cell, 56) << "frame from x=" << frame_left << " to " << frame_right;
  auto cell_corner = [&](int i, int j) { return png.luminance(right - (10 - j) * cell + 3, bottom - (10 - i) * cell + 3); };
  EXPECT_LT(cell_corner(9, 9), cell_corner(8, 8));
  EXPECT_LT(cell_corner(8, 8), cell_corner(0, 6));
  EXPECT_LT(cell_corner(0, 6), cell_corner(0, 0));
  EXPECT_EQ(png.at(right - cell + 3, bottom - cell + 3), (Rgb{8, 48, 107})) << "the largest count is the darkest blue";
  EXPECT_EQ(png.at(right - 10 * cell + 3, bottom - cell + 3), (Rgb{247, 251, 255})) << "a zero count is white";
  // The count is written in the cell: light text on the dark [9,9], dark text on the light [0,6].
  const int x99 = right - cell, y99 = bottom - cell;
  EXPECT_GT(count_pixels(png, x99, y99, x99 + cell, y99 + cell, kWhite), 20);
  const int x06 = right - 4 * cell, y06 = bottom - 10 * cell;
  EXPECT_GT(count_pixels(png, x06, y06, x06 + cell, y06 + cell, kBlack), 20);
  // Class names to the left of the grid and above it.
  EXPECT_GT(count_pixels(png, 0, bottom - cell, right - 10 * cell - 1, bottom, kBlack), 20) << "'Ankle boot' row";
  EXPECT_GT(count_pixels(png, 0, 0, png.width, bottom - 10 * cell - 1, kBlack), 200) << "titles and column names";
}

TEST(ConfusionPng, BadCountsAreErrors) {
  PngPath file("bad.png");
  EXPECT_TRUE(has(error_of([&] { write_confusion_png(file.path(), Tensor::empty(Shape{2, 3}, DType::Int32), {}); }),
                  "counts must be [K, K], got [2,3]"));
  EXPECT_TRUE(has(error_of([&] { write_confusion_png(file.path(), Tensor::from_vector<int32_t>({1, -1, 0, 0}, {2, 2}), {}); }),
                  "count [0,1] is negative: -1"));
  EXPECT_TRUE(has(error_of([&] { write_confusion_png(file.path(), Tensor::empty(Shape{2, 2}, DType::Float32), {}); }),
                  "must be int32 or int64, got float32"));
  EXPECT_TRUE(has(error_of([&] { write_confusion_png(file.path(), Tensor::empty(Shape{2, 2}, DType::Int64), kFashion); }),
                  "10 class names for 2 classes"));
  metrics::ConfusionMatrix cm(3);
  cm.update_state(Tensor::from_vector<int32_t>({0, 1, 2, 2}, {4}), Tensor::from_vector<int32_t>({0, 2, 2, 2}, {4}));
  write_confusion_png(file.path(), cm, {});
  EXPECT_GT(decode(file.path()).width, 3 * 56);
}

TEST(PredictionsPng, WrongPredictionsAreMarkedRed) {
  // 7 images of 28x28: image i is a horizontal gradient; prediction 3 is wrong.
  std::vector<float> pixels(7 * 28 * 28);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 28) / 27.0f;
  const Tensor images = Tensor::from_vector(pixels, {7, 28, 28, 1});
  const Tensor labels = Tensor::from_vector<int32_t>({0, 1, 2, 3, 4, 5, 9}, {7});
  const Tensor predictions = Tensor::from_vector<int64_t>({0, 1, 2, 7, 4, 5, 9}, {7});
  PngPath file("predictions.png");
  write_predictions_png(file.path(), images, labels, predictions, kFashion, 30);
  const Png png = decode(file.path());
  const int tile_w = png.width / 6, tile_h = png.height / 2;
  ASSERT_EQ(png.width % 6, 0);
  ASSERT_GE(tile_w, 28 * 4);
  EXPECT_EQ(count_pixels(png, 0, 0, tile_w, tile_h, kRed), 0) << "image 0 is right";
  EXPECT_GT(count_pixels(png, 0, 0, tile_w, 24, kBlack), 30) << "image 0's title is drawn in black";
  EXPECT_GT(count_pixels(png, 3 * tile_w, 0, 4 * tile_w, tile_h, kRed), 28 * 4 * 4) << "image 3: red title and frame";
  EXPECT_EQ(count_pixels(png, 1 * tile_w, tile_h, 2 * tile_w, 2 * tile_h, kBlack), 0) << "grid cell 7 is empty";
  EXPECT_GT(count_pixels(png, 0, tile_h, tile_w, 2 * tile_h, kBlack), 100) << "image 6 in the second row";
}

TEST(PredictionsPng, BadInputsAreErrors) {
  PngPath file("bad.png");
  const Tensor images = Tensor::empty(Shape{2, 28, 28, 1}, DType::Float32);
  const Tensor ids = Tensor::from_vector<int32_t>({0, 1}, {2});
  EXPECT_TRUE(has(error_of([&] { write_predictions_png(file.path(), Tensor::empty(Shape{2, 28, 28}, DType::Float32), ids, ids, kFashion); }),
                  "images must be float32 [N, H, W, 1] with N > 0, got float32[2,28,28]"));
  EXPECT_TRUE(has(error_of([&] { write_predictions_png(file.path(), images, Tensor::from_vector<int32_t>({0}, {1}), ids, kFashion); }),
                  "must both be [2], one per image"));
  EXPECT_TRUE(has(error_of([&] { write_predictions_png(file.path(), images, ids, Tensor::from_vector<int32_t>({0, 12}, {2}), kFashion); }),
                  "image 1 has label 1 and prediction 12, but there are 10 class names"));
  EXPECT_TRUE(has(error_of([&] { write_predictions_png(file.path(), images, ids, ids, kFashion, 0); }), "n must be >= 1"));
}

// Writes both figures from the real Fashion-MNIST test images (a fake "prediction" that is wrong
// for every seventh image), for looking at with KILN_KEEP_PNG=1.
TEST(PredictionsPng, FashionMnistFigures) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << dir << " is not installed";
  auto [images, labels] = data::load_mnist_split(dir, "t10k");
  std::vector<int32_t> y = labels.to_vector<int32_t>(), pred = y;
  for (size_t i = 0; i < pred.size(); i += 7) pred[i] = (pred[i] + 1) % 10;
  metrics::ConfusionMatrix cm(10);
  cm.update_state(labels, Tensor::from_vector(pred, {static_cast<int64_t>(pred.size())}));
  PngPath confusion("fashion-confusion.png"), grid("fashion-predictions.png");
  write_confusion_png(confusion.path(), cm, kFashion);
  write_predictions_png(grid.path(), images, labels, Tensor::from_vector(pred, {static_cast<int64_t>(pred.size())}), kFashion);
  const Png png = decode(grid.path());
  EXPECT_EQ(png.width % 6, 0);
  EXPECT_GT(png.height, 5 * 28 * 4);
}

}  // namespace
}  // namespace kiln::plot
