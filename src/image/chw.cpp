// Implements: write_chw_u8 and write_chw_normalised (chw.h). One pass over the
// pixels writing the three planes together; GCC vectorises the stride-3 loads
// at -O3 (AVX2 too, where the CPU has it). The float expression is the same as data::normalise_batch's (no FMA
// contraction under -std=c++17), so the results are bit-identical.
#include "image/chw.h"

#include <fmt/core.h>

#include <cstddef>

#include "image/cpu_dispatch.h"
#include "util/error.h"

namespace c2am::image {
namespace {

void check_rgb(const Image& rgb, const char* op) {
  if (rgb.channels != 3 || rgb.width <= 0 || rgb.height <= 0 ||
      rgb.pixels.size() != static_cast<size_t>(rgb.width) * rgb.height * 3)
    throw Error(fmt::format("{}: expected a 3-channel image, got {}x{}x{} with {} bytes", op, rgb.width,
                            rgb.height, rgb.channels, rgb.pixels.size()));
}

}  // namespace

Normalisation normalisation(const std::array<double, 3>& mean, const std::array<double, 3>& std) {
  Normalisation k;
  for (int c = 0; c < 3; ++c) {
    k.scale[c] = static_cast<float>(1.0 / (255.0 * std[c]));
    k.shift[c] = static_cast<float>(mean[c] / std[c]);
  }
  return k;
}

// Both writers are also built for AVX2 (wider stride-3 loads and stores),
// chosen at run time where the CPU has it; no FMA in either, so the same bits.

C2AM_AVX2_CLONES void write_chw_u8(const Image& rgb, std::uint8_t* dst) {
  check_rgb(rgb, "write_chw_u8");
  const size_t plane = static_cast<size_t>(rgb.width) * static_cast<size_t>(rgb.height);
  const std::uint8_t* __restrict s = rgb.pixels.data();
  std::uint8_t* __restrict r = dst;
  std::uint8_t* __restrict g = dst + plane;
  std::uint8_t* __restrict b = dst + 2 * plane;
  for (size_t p = 0; p < plane; ++p) {
    r[p] = s[3 * p + 0];
    g[p] = s[3 * p + 1];
    b[p] = s[3 * p + 2];
  }
}

C2AM_AVX2_CLONES void write_chw_normalised(const Image& rgb, const std::array<double, 3>& mean, const std::array<double, 3>& std,
                          float* dst) {
  check_rgb(rgb, "write_chw_normalised");
  const size_t plane = static_cast<size_t>(rgb.width) * static_cast<size_t>(rgb.height);
  const Normalisation k = normalisation(mean, std);
  const std::array<float, 3>& scale = k.scale;
  const std::array<float, 3>& shift = k.shift;
  const std::uint8_t* __restrict s = rgb.pixels.data();
  float* __restrict r = dst;
  float* __restrict g = dst + plane;
  float* __restrict b = dst + 2 * plane;
  for (size_t p = 0; p < plane; ++p) {
    r[p] = static_cast<float>(s[3 * p + 0]) * scale[0] - shift[0];
    g[p] = static_cast<float>(s[3 * p + 1]) * scale[1] - shift[1];
    b[p] = static_cast<float>(s[3 * p + 2]) * scale[2] - shift[2];
  }
}

}  // namespace c2am::image
