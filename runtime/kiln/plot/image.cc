// Canvas drawing, with stb_easy_font for text and stb_image_write for PNG output.
#include "kiln/plot/image.h"

#include <algorithm>
#include <cmath>

#include "kiln/error.h"

// Note [stb in one file]
// stb headers hold their implementation; it is compiled here and nowhere else, as static
// functions, so that a program linking libkiln may compile its own copy of stb_image_write. The
// headers live in /usr/include, a system include directory, so their warnings do not trip
// -Werror.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

namespace kiln::plot {
namespace {

// stb_easy_font's vertices: x, y, z and an RGBA colour, four per quad.
struct FontVertex {
  float x, y, z;
  unsigned char color[4];
};

std::string printable(const std::string& text) {
  std::string out = text;
  for (char& c : out)
    if (c < 32 || c > 126) c = '?';
  return out;
}

}  // namespace

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  KILN_CHECK(width > 0 && height > 0 && width <= 16384 && height <= 16384, "plot::Canvas: size ", width, "x", height,
             " is not in 1..16384");
  rgb_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb Canvas::pixel(int x, int y) const {
  KILN_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_, "plot::Canvas: pixel (", x, ", ", y,
             ") is outside the ", width_, "x", height_, " canvas");
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min<int64_t>(int64_t{x} + w, width_), y1 = std::min<int64_t>(int64_t{y} + h, height_);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) {
      const size_t i = (static_cast<size_t>(yy) * width_ + xx) * 3;
      rgb_[i] = color.r;
      rgb_[i + 1] = color.g;
      rgb_[i + 2] = color.b;
    }
}

void Canvas::draw_frame(int x, int y, int w, int h, int thickness, Rgb color) {
  fill_rect(x, y, w, thickness, color);
  fill_rect(x, y + h - thickness, w, thickness, color);
  fill_rect(x, y, thickness, h, color);
  fill_rect(x + w - thickness, y, thickness, h, color);
}

std::pair<int, int> Canvas::text_size(const std::string& text, int scale) {
  std::string s = printable(text);
  return {stb_easy_font_width(s.data()) * scale, stb_easy_font_height(s.data()) * scale};
}

void Canvas::draw_text(int x, int y, const std::string& text, Rgb color, int scale) {
  KILN_CHECK(scale >= 1, "plot::Canvas::draw_text: scale must be >= 1, got ", scale);
  std::string s = printable(text);
  // stb_easy_font needs about 270 bytes per character; it draws what fits in the buffer.
  std::vector<FontVertex> vertices(s.size() * 70 + 4);
  unsigned char rgba[4] = {color.r, color.g, color.b, 255};
  const int quads = stb_easy_font_print(0, 0, s.data(), rgba, vertices.data(),
                                        static_cast<int>(vertices.size() * sizeof(FontVertex)));
  // Each quad is an axis-aligned rectangle of font pixels: corners 0 and 2 are opposite.
  for (int q = 0; q < quads; ++q) {
    const FontVertex& a = vertices[4 * q];
    const FontVertex& c = vertices[4 * q + 2];
    const int qx = static_cast<int>(std::lround(std::min(a.x, c.x))), qy = static_cast<int>(std::lround(std::min(a.y, c.y)));
    const int qw = static_cast<int>(std::lround(std::fabs(c.x - a.x))), qh = static_cast<int>(std::lround(std::fabs(c.y - a.y)));
    fill_rect(x + qx * scale, y + qy * scale, qw * scale, qh * scale, color);
  }
}

void Canvas::blit_gray(int x, int y, const float* pixels, int rows, int cols, int scale) {
  KILN_CHECK(rows > 0 && cols > 0 && scale >= 1, "plot::Canvas::blit_gray: bad size ", rows, "x", cols, " scale ",
             scale);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float v = pixels[static_cast<size_t>(r) * cols + c];
      const uint8_t g = static_cast<uint8_t>(std::lround(std::clamp(std::isnan(v) ? 0.0f : v, 0.0f, 1.0f) * 255));
      fill_rect(x + c * scale, y + r * scale, scale, scale, Rgb{g, g, g});
    }
}

void Canvas::write_png(const std::string& path) const {
  const int ok = stbi_write_png(path.c_str(), width_, height_, 3, rgb_.data(), width_ * 3);
  KILN_CHECK(ok != 0, "plot::write_png: ", path, ": cannot write the ", width_, "x", height_, " PNG");
}

}  // namespace kiln::plot
