// Implements: JPEG/PNG header parsing for the image size (see image_header.h).
#include "data_prep/image_header.h"

#include <fmt/core.h>

#include <cstring>

#include "util/error.h"

namespace c2am::data_prep {
namespace {

constexpr std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
int be16(const std::uint8_t* p) { return (p[0] << 8) | p[1]; }

ImageSize png_size(const std::uint8_t* data, std::size_t size, const std::string& name) {
  // Signature (8), chunk length (4), "IHDR" (4), width (4), height (4).
  if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0)
    throw Error(fmt::format("'{}': PNG without a complete IHDR header", name));
  const std::uint32_t w = be32(data + 16), h = be32(data + 20);
  if (w == 0 || h == 0 || w > 1u << 30 || h > 1u << 30)
    throw Error(fmt::format("'{}': PNG header gives a bad size {}x{}", name, w, h));
  return ImageSize{static_cast<int>(w), static_cast<int>(h)};
}

// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
bool is_sof(std::uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

ImageSize jpeg_size(const std::uint8_t* data, std::size_t size, const std::string& name) {
  std::size_t pos = 2;  // after SOI
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) {
      throw Error(fmt::format(
          "'{}': corrupt JPEG header (no marker at byte {}); is the file a complete JPEG?", name, pos));
    }
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
      pos += 2;
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) break;  // EOI or SOS before any frame header
    const int length = be16(data + pos + 2);
    if (length < 2) throw Error(fmt::format("'{}': corrupt JPEG header (segment length {})", name, length));
    if (is_sof(marker)) {
      if (pos + 9 > size) break;
      const int h = be16(data + pos + 5), w = be16(data + pos + 7);
      if (w <= 0 || h <= 0) throw Error(fmt::format("'{}': JPEG header gives a bad size {}x{}", name, w, h));
      return ImageSize{w, h};
    }
    pos += 2 + static_cast<std::size_t>(length);
  }
  throw Error(fmt::format("'{}': JPEG without a frame header (truncated?)", name));
}

}  // namespace

ImageSize read_image_size(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors) {
  if (size >= 8 && std::memcmp(data, kPngSignature, 8) == 0) return png_size(data, size, name_for_errors);
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return jpeg_size(data, size, name_for_errors);
  throw Error(fmt::format("'{}': neither a JPEG nor a PNG ({} bytes)", name_for_errors, size));
}

}  // namespace c2am::data_prep
