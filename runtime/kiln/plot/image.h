// kiln::plot::Canvas: an RGB image to draw rectangles, text and grayscale images on, saved as PNG.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
};

inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kRed{210, 30, 30};

/// A width x height RGB image, row-major, (0, 0) at the top left. Drawing clips to the canvas,
/// so nothing drawn partly (or wholly) outside it is an error.
class Canvas {
 public:
  /// kiln::Error unless 0 < width, height <= 16384.
  Canvas(int width, int height, Rgb background = kWhite);

  int width() const { return width_; }
  int height() const { return height_; }
  /// The pixel at (x, y); kiln::Error outside the canvas.
  Rgb pixel(int x, int y) const;

  void fill_rect(int x, int y, int w, int h, Rgb color);
  /// A `thickness`-pixel frame inside the rectangle (x, y, w, h).
  void draw_frame(int x, int y, int w, int h, int thickness, Rgb color);
  /// Draws printable ASCII `text` with its top-left corner at (x, y), each font pixel a
  /// `scale` x `scale` square. The font is stb_easy_font's (a segment font from libstb-dev,
  /// about 6 x 12 pixels a character at scale 1, descenders included); other characters
  /// are drawn as '?'.
  void draw_text(int x, int y, const std::string& text, Rgb color, int scale = 1);
  /// draw_text's size of `text`: {width, height} in pixels.
  static std::pair<int, int> text_size(const std::string& text, int scale = 1);
  /// Draws a rows x cols grayscale image (values in [0, 1], clamped; 1 is white) with its top
  /// left at (x, y), each pixel a `scale` x `scale` square.
  void blit_gray(int x, int y, const float* pixels, int rows, int cols, int scale);

  /// Writes the canvas to `path` as an 8-bit RGB PNG (stb_image_write); kiln::Error naming the
  /// file when it cannot be written.
  void write_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

}  // namespace kiln::plot
