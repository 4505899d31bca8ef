// Implements: JPEG decoding (optionally DCT-scaled) and encoding through
// TurboJPEG. Thread safe: each thread keeps its own TurboJPEG handles.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "image/image.h"

namespace c2am::image {

// Decodes a JPEG held in memory; always returns RGB (channels = 3), also for
// greyscale and CMYK/YCCK files (CMYK converted like PIL's convert("RGB")).
// A PNG mislabelled as JPEG (ImageNet has one) is decoded as PNG.
// min_side_hint > 0: decode with the smallest of the scaling factors 1/1, 1/2,
// 1/4, 1/8 whose scaled image keeps both sides >= min_side_hint (DCT-domain
// scaling, much faster for large files; not bit-identical to full decode +
// resize). libjpeg-turbo's other factors (7/8, 3/4, 5/8, 3/8) are not used:
// their scaled IDCTs have no SIMD path and decode slower than the full size
// (500x375 q90 photographs: 3/4 at 830 img/s against 1160 for 1/1 and 1340
// for 1/2; docs/benchmarks.md).
// stored_size (optional) receives the (width, height) in the file's header,
// i.e. before any DCT scaling: the pixels that boxes of the stored image use.
// max_pixels > 0: a header claiming more than max_pixels pixels (width x
// height, before DCT scaling) is refused before anything is allocated
// (check_pixel_limit in image.h); 0 = no limit.
// Throws c2am::Error naming `name_for_errors` and TurboJPEG's message on
// corrupt or truncated data; harmless libjpeg warnings (extraneous bytes) are
// tolerated like PIL does.
Image decode_jpeg(const std::uint8_t* data, size_t size, const std::string& name_for_errors,
                  int min_side_hint = 0, std::array<int, 2>* stored_size = nullptr,
                  std::int64_t max_pixels = kDefaultMaxPixels);

// As decode_jpeg, into `out`, reusing its pixel buffer (no allocation once it
// is large enough): a loader thread decodes every image into one buffer.
// After an exception `out` holds no meaningful image.
void decode_jpeg_into(Image& out, const std::uint8_t* data, size_t size, const std::string& name_for_errors,
                      int min_side_hint = 0, std::array<int, 2>* stored_size = nullptr,
                      std::int64_t max_pixels = kDefaultMaxPixels);

// Reads and decodes a JPEG file; errors name the path.
Image read_jpeg(const std::string& path, int min_side_hint = 0);

// Encodes an RGB (4:2:0 subsampling) or grey (channels = 1) image;
// quality in [1, 100].
std::vector<std::uint8_t> encode_jpeg(const Image& img, int quality = 90);

}  // namespace c2am::image
