// Implements: resize_window (resample_window.h). The PIL path is resize.cpp's
// two fixed-point passes restricted to the window's columns and rows; the
// fast path runs the vertical pass first, in float, over contiguous source
// bytes (vectorised), then the horizontal pass on pixels padded to four
// floats so that each tap is one 4-lane multiply-add.
#include "image/resample_window.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "image/resample_coeffs.h"
#include "util/error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace c2am::image {
namespace {

using detail::clip8;
using detail::Coeffs;
using detail::kPrecisionBits;

void check_arguments(const Image& src, int out_w, int out_h, const Window& w) {
  if (src.width <= 0 || src.height <= 0 || src.channels <= 0 ||
      src.pixels.size() != static_cast<size_t>(src.width) * src.height * src.channels)
    throw Error(fmt::format("resize_window: invalid {}x{}x{} source image with {} bytes", src.width, src.height,
                            src.channels, src.pixels.size()));
  if (out_w <= 0 || out_h <= 0) throw Error(fmt::format("resize_window: bad target size {}x{}", out_w, out_h));
  if (w.width <= 0 || w.height <= 0 || w.x < 0 || w.y < 0 || w.x > out_w - w.width || w.y > out_h - w.height)
    throw Error(fmt::format("resize_window: window (x {}, y {}, {}x{}) is empty or not inside the resized {}x{} image",
                            w.x, w.y, w.width, w.height, out_w, out_h));
}

// The resized image's column that window column j shows.
inline int window_column(const Window& w, bool flip, int j) { return flip ? w.x + w.width - 1 - j : w.x + j; }

// ---- kPil: resize.cpp's arithmetic, window only --------------------------------

Image pil_window(const Image& src, int out_w, int out_h, const Window& win, bool flip, Filter filter) {
  const int ch = src.channels;
  const bool need_h = out_w != src.width;
  const bool need_v = out_h != src.height;
  Coeffs horiz, vert;
  if (need_h) horiz = detail::precompute_coeffs(src.width, out_w, filter);
  // Source rows [row0, row1) feed the window's rows.
  int row0 = win.y, row1 = win.y + win.height;
  if (need_v) {
    vert = detail::precompute_coeffs(src.height, out_h, filter);
    row0 = vert.first[win.y];
    row1 = 0;
    for (int y = win.y; y < win.y + win.height; ++y) row1 = std::max(row1, vert.first[y] + vert.count[y]);
  }
  // Horizontal pass (or column pick) over rows [row0, row1), window columns only.
  Image temp(win.width, row1 - row0, ch);
  for (int r = 0; r < temp.height; ++r) {
    const std::uint8_t* s = src.at(0, row0 + r);
    std::uint8_t* d = temp.at(0, r);
    for (int j = 0; j < win.width; ++j, d += ch) {
      const int xx = window_column(win, flip, j);
      if (!need_h) {
        std::memcpy(d, s + static_cast<size_t>(xx) * ch, ch);
        continue;
      }
      const int* wt = &horiz.weights[static_cast<size_t>(xx) * horiz.ksize];
      const std::uint8_t* p = s + static_cast<size_t>(horiz.first[xx]) * ch;
      for (int k = 0; k < ch; ++k) {
        int acc = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < horiz.count[xx]; ++x) acc += p[x * ch + k] * wt[x];
        d[k] = clip8(acc);
      }
    }
  }
  if (!need_v) return temp;
  // Vertical pass.
  Image out(win.width, win.height, ch);
  const size_t row_len = static_cast<size_t>(win.width) * ch;
  std::vector<int> acc(row_len);
  for (int yy = 0; yy < win.height; ++yy) {
    const int y = win.y + yy;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    const int* wt = &vert.weights[static_cast<size_t>(y) * vert.ksize];
    for (int k = 0; k < vert.count[y]; ++k) {
      const std::uint8_t* s = temp.at(0, vert.first[y] - row0 + k);
      const int wk = wt[k];
      for (size_t i = 0; i < row_len; ++i) acc[i] += s[i] * wk;
    }
    std::uint8_t* d = out.at(0, yy);
    for (size_t i = 0; i < row_len; ++i) d[i] = clip8(acc[i]);
  }
  return out;
}

// ---- kFast: float, vertical pass first -----------------------------------------

// One window column's taps: source pixels [first, first + count) relative to
// the leftmost source column the window reads, float weights at w.
struct Taps {
  int first = 0;
  int count = 0;
  const float* w = nullptr;
};

inline std::uint8_t round_to_u8(float v) {
  v = std::min(std::max(v, 0.0f), 255.0f);
  return static_cast<std::uint8_t>(v + 0.5f);
}

// line[i] = sum_k w[k] * rows[k][i] for i < n: contiguous, vectorised.
void vertical_line(const std::uint8_t* const* rows, const float* w, int count, size_t n, float* line) {
  const std::uint8_t* s0 = rows[0];
  const float w0 = w[0];
  for (size_t i = 0; i < n; ++i) line[i] = w0 * static_cast<float>(s0[i]);
  for (int k = 1; k < count; ++k) {
    const std::uint8_t* s = rows[k];
    const float wk = w[k];
    for (size_t i = 0; i < n; ++i) line[i] += wk * static_cast<float>(s[i]);
  }
}

// Horizontal pass of one row: `line` holds pixels of kLanes floats (channels
// padded to kLanes), out holds `channels` bytes per pixel.
template <int kLanes>
void horizontal_line(const float* line, const std::vector<Taps>& taps, int channels, std::uint8_t* out) {
  for (const Taps& t : taps) {
    const float* p = line + static_cast<size_t>(t.first) * kLanes;
    float acc[kLanes] = {};
    for (int k = 0; k < t.count; ++k) {
      const float wk = t.w[k];
      for (int c = 0; c < kLanes; ++c) acc[c] += wk * p[k * kLanes + c];
    }
    for (int c = 0; c < channels; ++c) out[c] = round_to_u8(acc[c]);
    out += channels;
  }
}

#if defined(__SSE2__)
// The same for RGB padded to 4 floats, one SSE register per pixel (SSE2 is
// part of x86-64, so no dispatch is needed). Rounds like round_to_u8.
template <>
void horizontal_line<4>(const float* line, const std::vector<Taps>& taps, int channels, std::uint8_t* out) {
  const __m128 lo = _mm_setzero_ps(), hi = _mm_set1_ps(255.0f), half = _mm_set1_ps(0.5f);
  for (const Taps& t : taps) {
    const float* p = line + static_cast<size_t>(t.first) * 4;
    __m128 acc = _mm_setzero_ps();
    for (int k = 0; k < t.count; ++k) acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(t.w[k]), _mm_loadu_ps(p + 4 * k)));
    acc = _mm_add_ps(_mm_min_ps(_mm_max_ps(acc, lo), hi), half);
    const __m128i i32 = _mm_cvttps_epi32(acc);
    const __m128i u8 = _mm_packus_epi16(_mm_packs_epi32(i32, i32), i32);
    const std::uint32_t bytes = static_cast<std::uint32_t>(_mm_cvtsi128_si32(u8));
    std::memcpy(out, &bytes, 3);  // little-endian: R, G, B in the low bytes
    out += channels;
  }
}
#endif

Image fast_window(const Image& src, int out_w, int out_h, const Window& win, bool flip, Filter filter) {
  const int ch = src.channels;
  const Coeffs horiz = detail::precompute_coeffs(src.width, out_w, filter);
  const Coeffs vert = detail::precompute_coeffs(src.height, out_h, filter);
  // Float weights: the window's columns (in output order, flip applied), then its rows.
  std::vector<float> hw(static_cast<size_t>(win.width) * horiz.ksize);
  std::vector<Taps> taps(static_cast<size_t>(win.width));
  int col0 = src.width, col1 = 0;
  for (int j = 0; j < win.width; ++j) {
    const int xx = window_column(win, flip, j);
    col0 = std::min(col0, horiz.first[xx]);
    col1 = std::max(col1, horiz.first[xx] + horiz.count[xx]);
  }
  for (int j = 0; j < win.width; ++j) {
    const int xx = window_column(win, flip, j);
    float* w = &hw[static_cast<size_t>(j) * horiz.ksize];
    for (int k = 0; k < horiz.count[xx]; ++k)
      w[k] = static_cast<float>(horiz.exact[static_cast<size_t>(xx) * horiz.ksize + k]);
    taps[static_cast<size_t>(j)] = Taps{horiz.first[xx] - col0, horiz.count[xx], w};
  }
  std::vector<float> vw(static_cast<size_t>(vert.ksize));
  std::vector<const std::uint8_t*> rows(static_cast<size_t>(vert.ksize));

  const int span = col1 - col0;
  const size_t n = static_cast<size_t>(span) * ch;
  std::vector<float> line(n);
  std::vector<float> padded(ch == 3 ? static_cast<size_t>(span) * 4 : 0);
  Image out(win.width, win.height, ch);
  for (int yy = 0; yy < win.height; ++yy) {
    const int y = win.y + yy;
    const int count = vert.count[y];
    for (int k = 0; k < count; ++k) {
      vw[static_cast<size_t>(k)] = static_cast<float>(vert.exact[static_cast<size_t>(y) * vert.ksize + k]);
      rows[static_cast<size_t>(k)] = src.at(col0, vert.first[y] + k);
    }
    vertical_line(rows.data(), vw.data(), count, n, line.data());
    std::uint8_t* d = out.at(0, yy);
    if (ch == 3) {
      for (int p = 0; p < span; ++p) {
        padded[static_cast<size_t>(p) * 4 + 0] = line[static_cast<size_t>(p) * 3 + 0];
        padded[static_cast<size_t>(p) * 4 + 1] = line[static_cast<size_t>(p) * 3 + 1];
        padded[static_cast<size_t>(p) * 4 + 2] = line[static_cast<size_t>(p) * 3 + 2];
        padded[static_cast<size_t>(p) * 4 + 3] = 0.0f;
      }
      horizontal_line<4>(padded.data(), taps, 3, d);
    } else if (ch == 1) {
      horizontal_line<1>(line.data(), taps, 1, d);
    } else {
      // Any other channel count: one channel at a time through a strided copy.
      std::vector<float> plane(static_cast<size_t>(span));
      std::vector<std::uint8_t> res(static_cast<size_t>(win.width));
      for (int c = 0; c < ch; ++c) {
        for (int p = 0; p < span; ++p) plane[static_cast<size_t>(p)] = line[static_cast<size_t>(p) * ch + c];
        horizontal_line<1>(plane.data(), taps, 1, res.data());
        for (int j = 0; j < win.width; ++j) d[static_cast<size_t>(j) * ch + c] = res[static_cast<size_t>(j)];
      }
    }
  }
  return out;
}

}  // namespace

Image resize_window(const Image& src, int out_w, int out_h, Window window, bool flip, Resample mode,
                    Filter filter) {
  check_arguments(src, out_w, out_h, window);
  return mode == Resample::kPil ? pil_window(src, out_w, out_h, window, flip, filter)
                                : fast_window(src, out_w, out_h, window, flip, filter);
}

}  // namespace c2am::image
