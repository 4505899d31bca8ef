// Implements: heat-map overlays, box outlines and contact sheets (see heatmap.h).
#include "eval/heatmap.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "image/png.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::eval {
namespace {

constexpr int kSheetPadding = 4;
constexpr std::uint8_t kSheetBackground = 255;

std::uint8_t to_byte(double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// Source coordinate of destination pixel `d` when resizing `src` -> `dst`
// samples with centres aligned (align_corners = false), clamped to the edges.
struct Tap {
  int i0, i1;
  double w1;
};
Tap tap(int d, int src, int dst) {
  const double s = std::clamp((d + 0.5) * src / dst - 0.5, 0.0, static_cast<double>(src - 1));
  const int i0 = static_cast<int>(std::floor(s));
  return Tap{i0, std::min(i0 + 1, src - 1), s - i0};
}

// Bilinear sample of `channels` interleaved uint8 or float values.
template <typename T>
double bilinear(const T* data, int width, int channels, const Tap& tx, const Tap& ty, int c) {
  auto at = [&](int x, int y) {
    return static_cast<double>(data[(static_cast<size_t>(y) * width + x) * channels + c]);
  };
  const double top = at(tx.i0, ty.i0) * (1 - tx.w1) + at(tx.i1, ty.i0) * tx.w1;
  const double bottom = at(tx.i0, ty.i1) * (1 - tx.w1) + at(tx.i1, ty.i1) * tx.w1;
  return top * (1 - ty.w1) + bottom * ty.w1;
}

image::Image resize_rgb(const image::Image& src, int width, int height) {
  image::Image out(width, height, 3);
  for (int y = 0; y < height; ++y) {
    const Tap ty = tap(y, src.height, height);
    for (int x = 0; x < width; ++x) {
      const Tap tx = tap(x, src.width, width);
      std::uint8_t* p = out.at(x, y);
      for (int c = 0; c < 3; ++c) {
        const int sc = src.channels == 1 ? 0 : c;
        p[c] = to_byte(bilinear(src.pixels.data(), src.width, src.channels, tx, ty, sc));
      }
    }
  }
  return out;
}

void check_image(const image::Image& image, const char* what) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels) {
    throw Error(fmt::format("{}: image {}x{}x{} with {} bytes is not a valid 1- or 3-channel image", what,
                            image.width, image.height, image.channels, image.pixels.size()));
  }
}

}  // namespace

std::array<std::uint8_t, 3> jet_colour(float v) {
  const double t = std::isnan(v) ? 0.0 : std::clamp(static_cast<double>(v), 0.0, 1.0);
  auto ramp = [&](double centre) { return std::clamp(1.5 - std::abs(4.0 * t - centre), 0.0, 1.0) * 255.0; };
  return {to_byte(ramp(3.0)), to_byte(ramp(2.0)), to_byte(ramp(1.0))};
}

image::Image overlay_heatmap(const image::Image& rgb, const MapView& map, double alpha) {
  check_image(rgb, "overlay_heatmap");
  if (map.data == nullptr || map.width <= 0 || map.height <= 0) {
    throw Error(fmt::format("overlay_heatmap: empty map ({}x{})", map.width, map.height));
  }
  const double a = std::clamp(alpha, 0.0, 1.0);
  image::Image out(rgb.width, rgb.height, 3);
  for (int y = 0; y < rgb.height; ++y) {
    const Tap ty = tap(y, map.height, rgb.height);
    for (int x = 0; x < rgb.width; ++x) {
      const Tap tx = tap(x, map.width, rgb.width);
      const auto colour = jet_colour(static_cast<float>(bilinear(map.data, map.width, 1, tx, ty, 0)));
      const std::uint8_t* src = rgb.at(x, y);
      std::uint8_t* dst = out.at(x, y);
      for (int c = 0; c < 3; ++c) {
        const double base = src[rgb.channels == 1 ? 0 : c];
        dst[c] = to_byte((1.0 - a) * base + a * colour[c]);
      }
    }
  }
  return out;
}

void draw_box(image::Image& image, const image::Box& box, std::array<std::uint8_t, 3> colour, int thickness) {
  check_image(image, "draw_box");
  if (image.channels != 3) throw Error("draw_box: needs a 3-channel image");
  const int x0 = static_cast<int>(std::lround(box.x0));
  const int y0 = static_cast<int>(std::lround(box.y0));
  const int x1 = static_cast<int>(std::lround(box.x1)) - 1;  // last column inside the box
  const int y1 = static_cast<int>(std::lround(box.y1)) - 1;
  if (x1 < x0 || y1 < y0 || thickness <= 0) return;
  const int t = thickness;
  for (int y = std::max(y0, 0); y <= std::min(y1, image.height - 1); ++y) {
    for (int x = std::max(x0, 0); x <= std::min(x1, image.width - 1); ++x) {
      const bool edge = x < x0 + t || x > x1 - t || y < y0 + t || y > y1 - t;
      if (!edge) continue;
      std::uint8_t* p = image.at(x, y);
      p[0] = colour[0];
      p[1] = colour[1];
      p[2] = colour[2];
    }
  }
}

image::Image contact_sheet(const std::vector<image::Image>& tiles, int columns, int tile_side) {
  if (tiles.empty()) throw Error("contact_sheet: no tiles");
  if (columns <= 0 || tile_side <= 0) {
    throw Error(
        fmt::format("contact_sheet: columns ({}) and tile side ({}) must be positive", columns, tile_side));
  }
  const int cols = std::min<int>(columns, static_cast<int>(tiles.size()));
  const int rows = (static_cast<int>(tiles.size()) + cols - 1) / cols;
  const int step = tile_side + kSheetPadding;
  image::Image sheet(kSheetPadding + cols * step, kSheetPadding + rows * step, 3);
  std::fill(sheet.pixels.begin(), sheet.pixels.end(), kSheetBackground);
  for (size_t i = 0; i < tiles.size(); ++i) {
    check_image(tiles[i], "contact_sheet");
    const image::Image tile = resize_rgb(tiles[i], tile_side, tile_side);
    const int ox = kSheetPadding + static_cast<int>(i % cols) * step;
    const int oy = kSheetPadding + static_cast<int>(i / cols) * step;
    for (int y = 0; y < tile_side; ++y) {
      std::copy_n(tile.at(0, y), static_cast<size_t>(tile_side) * 3, sheet.at(ox, oy + y));
    }
  }
  return sheet;
}

std::vector<std::string> write_pictures(const std::vector<image::Image>& pictures, int side,
                                        const std::string& out_dir) {
  const std::string dir = out_dir + "/heatmaps";
  util::make_dirs(dir);
  std::vector<std::string> files;
  for (size_t k = 0; k < pictures.size(); ++k) {
    files.push_back(fmt::format("{}/{:04d}.png", dir, k));
    image::write_png(files.back(), pictures[k]);
  }
  files.push_back(out_dir + "/heatmaps.png");
  image::write_png(files.back(), contact_sheet(pictures, 8, std::max(96, side)));
  return files;
}

}  // namespace c2am::eval
