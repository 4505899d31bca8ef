// Implements: real image files whose headers lie about their size (a JPEG
// whose SOF frame header, a PNG whose IHDR claims width x height), for the
// decode-limit tests: tiny files that a decoder without a limit would turn
// into gigabyte allocations.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "image/image.h"
#include "image/jpeg.h"
#include "image/png.h"

namespace c2am::testing_util {

// A valid 16x8 JPEG whose frame header (SOF0) is rewritten to claim width x height.
inline std::vector<std::uint8_t> jpeg_claiming(int width, int height) {
  image::Image img(16, 8, 3);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i * 13);
  std::vector<std::uint8_t> j = image::encode_jpeg(img, 90);
  for (std::size_t p = 2; p + 9 < j.size(); ++p) {
    if (j[p] == 0xFF && j[p + 1] == 0xC0) {  // SOF0: FF C0, length(2), precision(1), height(2), width(2)
      j[p + 5] = static_cast<std::uint8_t>(height >> 8);
      j[p + 6] = static_cast<std::uint8_t>(height & 0xFF);
      j[p + 7] = static_cast<std::uint8_t>(width >> 8);
      j[p + 8] = static_cast<std::uint8_t>(width & 0xFF);
      return j;
    }
  }
  throw std::runtime_error("jpeg_claiming: no SOF0 marker in the encoded JPEG");
}

inline std::uint32_t crc32_of(const std::uint8_t* data, std::size_t n) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= data[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

// A valid 16x8 grey PNG whose IHDR is rewritten (CRC fixed) to claim width x height.
inline std::vector<std::uint8_t> png_claiming(std::uint32_t width, std::uint32_t height) {
  image::Image img(16, 8, 1);
  const std::string png = image::encode_png(img);
  std::vector<std::uint8_t> p(png.begin(), png.end());
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int b = 0; b < 4; ++b) p[at + b] = static_cast<std::uint8_t>(v >> (24 - 8 * b));
  };
  put32(16, width);  // signature 8, length 4, "IHDR" 4, then width, height
  put32(20, height);
  put32(29, crc32_of(p.data() + 12, 17));  // CRC over "IHDR" + its 13 data bytes
  return p;
}

}  // namespace c2am::testing_util
