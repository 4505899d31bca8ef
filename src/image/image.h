// Implements: the plain 8-bit image buffer shared by codecs, transforms and
// the synthetic generator (no tensors here).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace c2am::image {

// Interleaved (HWC) 8-bit pixels; channels = 1 (grey / label) or 3 (RGB).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<std::uint8_t> pixels;  // size = width * height * channels

  Image() = default;
  Image(int w, int h, int c) : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c, 0) {}
  std::uint8_t* at(int x, int y) { return pixels.data() + (static_cast<size_t>(y) * width + x) * channels; }
  const std::uint8_t* at(int x, int y) const {
    return pixels.data() + (static_cast<size_t>(y) * width + x) * channels;
  }
};

// Axis-aligned box in pixels, (x0, y0) inclusive top-left, (x1, y1) exclusive-style
// corner as in the reference (x + w, y + h).
struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

// The decoders' default limit on width x height (data.max_pixels): an image
// whose header claims more is refused before any pixel buffer is allocated.
inline constexpr std::int64_t kDefaultMaxPixels = 100'000'000;

// Throws c2am::Error "cannot decode <format> '<name>': its header claims
// WxH = N pixels, more than the limit of M (data.max_pixels)" when
// max_pixels > 0 and width x height exceeds it.
void check_pixel_limit(std::int64_t width, std::int64_t height, std::int64_t max_pixels, const char* format,
                       const std::string& name_for_errors);

}  // namespace c2am::image
