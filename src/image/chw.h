// Implements: the last step of the image transforms, writing an interleaved
// (HWC) RGB image into three planes (CHW), as bytes or as normalised floats,
// in one vectorisable pass. No tensors: the caller owns the destination.
#pragma once
#include <array>
#include <cstdint>

#include "image/image.h"

namespace c2am::image {

// dst[c * H * W + y * W + x] = rgb.at(x, y)[c]; dst holds 3 * H * W bytes.
// Throws c2am::Error unless rgb is a consistent 3-channel image.
void write_chw_u8(const Image& rgb, std::uint8_t* dst);

// The per-channel constants of the normalisation, in float:
// scale[c] = float(1 / (255 * std[c])), shift[c] = float(mean[c] / std[c]).
// Every normalisation (this writer, data::normalise_batch on the device)
// takes them from here, so all give the same bits.
struct Normalisation {
  std::array<float, 3> scale{};
  std::array<float, 3> shift{};
};
Normalisation normalisation(const std::array<double, 3>& mean, const std::array<double, 3>& std);

// dst[c * H * W + p] = pixel * float(1 / (255 * std[c])) - float(mean[c] / std[c]),
// in float: the loader's float batches (data::normalise_batch does the same on the device). dst holds 3 * H * W floats.
// Throws c2am::Error unless rgb is a consistent 3-channel image.
void write_chw_normalised(const Image& rgb, const std::array<double, 3>& mean, const std::array<double, 3>& std,
                          float* dst);

}  // namespace c2am::image
