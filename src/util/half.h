// Implements: IEEE 754 half precision (numpy's float16) <-> float, exact in
// both directions and rounding to nearest, ties to even, as numpy does.
// Written by hand because HDF5 1.10's own float -> float16 conversion
// mis-rounds (a value that rounds up into the next power of two, e.g.
// 0.999785 -> 1.0, comes out as 0.5 after a subnormal in the same buffer).
#pragma once
#include <cstdint>
#include <cstring>

namespace c2am::util {

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exp == 0 && mant == 0) {
    bits = sign;
  } else if (exp == 0) {  // subnormal: normalise
    std::uint32_t shifts = 0;
    while ((mant & 0x400u) == 0) mant <<= 1, ++shifts;
    bits = sign | ((127 - 14 - shifts) << 23) | ((mant & 0x3ffu) << 13);
  } else if (exp == 31) {  // infinity, NaN
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f = 0.0f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline std::uint16_t float_to_half(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, sizeof x);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (x >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to infinity
  std::uint32_t h = 0, rem = 0, half = 0;
  if (x < 0x38800000u) {                          // below 2^-14: a subnormal half (or zero)
    if (x < 0x33000000u) return sign;             // below 2^-25: rounds to zero
    const std::uint32_t shift = 126 - (x >> 23);  // 14..24: units of 2^-24
    const std::uint32_t m = (x & 0x7fffffu) | 0x800000u;
    h = m >> shift;
    rem = m & ((1u << shift) - 1);
    half = 1u << (shift - 1);
  } else {
    h = (x >> 13) - (112u << 10);  // rebias the exponent (127 -> 15), keep 10 mantissa bits
    rem = x & 0x1fffu;
    half = 0x1000u;
  }
  if (rem > half || (rem == half && (h & 1u) != 0)) ++h;  // a carry moves into the exponent, as it should
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace c2am::util
