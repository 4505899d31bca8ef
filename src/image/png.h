// Implements: PNG reading and writing through libpng: 8-bit grey/RGB, 8-bit
// palette label maps (PASCAL VOC masks) and 16-bit grey maps. Writers encode
// to memory first, then write the file atomically.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "image/image.h"

namespace c2am::image {

using Palette = std::vector<std::array<std::uint8_t, 3>>;

// The standard 256-entry PASCAL VOC colour map (0 black, 1 (128,0,0), ...,
// 255 (224,224,192) for "void").
Palette voc_palette();

// 16-bit single-channel map.
struct Grey16 {
  int width = 0;
  int height = 0;
  std::vector<std::uint16_t> values;  // row-major, size = width * height
};

// Encoders to memory (the PNG file's bytes). Errors name `name`.
std::string encode_png(const Image& img, const std::string& name = "<memory>");  // 1 = grey, 3 = RGB
std::string encode_png_palette(const Image& labels, const Palette& palette,
                               const std::string& name = "<memory>");
std::string encode_png16(int width, int height, const std::vector<std::uint16_t>& grey,
                         const std::string& name = "<memory>");

// Atomic file writers; errors name the path.
void write_png(const std::string& path, const Image& img);
// 8-bit palette PNG from a 1-channel label image; every label must index the palette.
void write_png_palette(const std::string& path, const Image& labels, const Palette& palette);
void write_png16(const std::string& path, int width, int height, const std::vector<std::uint16_t>& grey);

// Decodes a PNG from memory. Palette images give the raw palette INDEX per
// pixel (1 channel, as VOC masks need) unless expand_palette, which gives RGB.
// Grey (any depth) gives 1 channel, colour gives 3; alpha and tRNS are
// dropped, 16-bit samples are scaled to 8 bits. max_pixels > 0: an IHDR
// claiming more pixels is refused before the pixel buffer is allocated.
Image decode_png(const std::uint8_t* data, size_t size, const std::string& name_for_errors,
                 bool expand_palette = false, std::int64_t max_pixels = kDefaultMaxPixels);
// Reads a PNG file (see decode_png, palette as indices); errors name the path.
Image read_png(const std::string& path);
// Reads a single-channel (grey) PNG keeping 16-bit samples; 1-8 bit files give
// their raw sample values. Errors name the path.
Grey16 read_png16(const std::string& path);

}  // namespace c2am::image
