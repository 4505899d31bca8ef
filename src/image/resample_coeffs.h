// Implements: the per-output-coordinate weights of PIL's separable resampler
// (Resample.c precompute_coeffs), shared by the full-image resize and the
// window resize. Internal to the image module.
#pragma once
#include <cstdint>
#include <vector>

#include "image/resize.h"

namespace c2am::image::detail {

// PIL's fixed-point precision: 32 - 8 - 2 bits of fraction.
inline constexpr int kPrecisionBits = 32 - 8 - 2;

// Output coordinate i reads inputs [first[i], first[i] + count[i]) with
// weights[i * ksize + k] (fixed point, exactly PIL's) or exact[i * ksize + k]
// (the normalised double weights before rounding to fixed point).
struct Coeffs {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int> weights;
  std::vector<double> exact;
};

// PIL's precompute_coeffs for resizing in_size -> out_size (the filter
// widens by the scale factor when shrinking).
Coeffs precompute_coeffs(int in_size, int out_size, Filter filter);

// Tests only: true makes the fast window path use its baseline (SSE2) code
// even where the CPU has AVX2, so both paths can be checked on one machine.
void force_baseline_simd(bool on);

// PIL's clip8: drop the fraction bits of a rounded accumulator, saturate.
inline std::uint8_t clip8(int v) {
  v >>= kPrecisionBits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace c2am::image::detail
