// Implements: resize_window (resample_window.h). The PIL path is resize.cpp's
// two fixed-point passes restricted to the window's columns and rows; the
// fast path runs the vertical pass first, in float, over contiguous source
// bytes (vectorised; AVX2 where the CPU has it), then the horizontal pass,
// one 4-lane multiply-add per tap of an RGB pixel.
#include "image/resample_window.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "image/cpu_dispatch.h"
#include "image/resample_coeffs.h"
#include "util/error.h"

#if defined(C2AM_HAVE_AVX2_TARGET)
#include <immintrin.h>
#elif defined(__SSE2__)
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

// Per-thread scratch: a loader thread resamples every image with the same
// buffers (no allocation, no page faults once they are large enough).
struct Scratch {
  std::vector<std::uint8_t> temp;  // kPil: the horizontal pass's rows
  std::vector<float> hw;           // kFast: window columns' weights, ksize each (zero past count)
  std::vector<float> pairs;        // kFast with AVX2: hw of column pairs interleaved, 8 floats a tap
  std::vector<float> line;         // kFast: one vertically resampled row, zero-padded
  std::vector<float> plane;        // kFast, other channel counts: one channel of `line`
  std::vector<std::uint8_t> res;   // kFast, other channel counts: one channel's output row
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Sets `out` to a w x h x c image, reusing its buffer; every byte is written by the caller.
void reshape(Image& out, int w, int h, int c) {
  out.width = w;
  out.height = h;
  out.channels = c;
  out.pixels.resize(static_cast<size_t>(w) * h * c);
}

// ---- kPil: resize.cpp's arithmetic, window only --------------------------------

void pil_window(const Image& src, int out_w, int out_h, const Window& win, bool flip, Filter filter, Image& out) {
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
  // Horizontal pass (or column pick) over rows [row0, row1), window columns only;
  // straight into `out` when there is no vertical pass.
  const size_t row_len = static_cast<size_t>(win.width) * ch;
  std::vector<std::uint8_t>& temp = scratch().temp;
  if (need_v) {
    temp.resize(row_len * static_cast<size_t>(row1 - row0));
  } else {
    reshape(out, win.width, win.height, ch);
  }
  std::uint8_t* const temp_rows = need_v ? temp.data() : out.pixels.data();
  for (int r = 0; r < row1 - row0; ++r) {
    const std::uint8_t* s = src.at(0, row0 + r);
    std::uint8_t* d = temp_rows + static_cast<size_t>(r) * row_len;
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
  if (!need_v) return;
  // Vertical pass.
  reshape(out, win.width, win.height, ch);
  std::vector<int> acc(row_len);
  for (int yy = 0; yy < win.height; ++yy) {
    const int y = win.y + yy;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    const int* wt = &vert.weights[static_cast<size_t>(y) * vert.ksize];
    for (int k = 0; k < vert.count[y]; ++k) {
      const std::uint8_t* s = temp_rows + static_cast<size_t>(vert.first[y] - row0 + k) * row_len;
      const int wk = wt[k];
      for (size_t i = 0; i < row_len; ++i) acc[i] += s[i] * wk;
    }
    std::uint8_t* d = out.at(0, yy);
    for (size_t i = 0; i < row_len; ++i) d[i] = clip8(acc[i]);
  }
}

// ---- kFast: float, vertical pass first -----------------------------------------
//
// Both passes accumulate in float in tap order, one multiply then one add per
// tap (no FMA: none of the instruction sets below has it), so the result is
// the same bits on every x86-64 CPU whichever code path runs.

inline std::uint8_t round_to_u8(float v) {
  v = std::min(std::max(v, 0.0f), 255.0f);
  return static_cast<std::uint8_t>(v + 0.5f);
}

// line[i] = sum_k w[k] * rows[k][i] for i < n: contiguous, vectorised by the
// compiler; also built for AVX2 (8 lanes, one-instruction byte-to-int
// widening) and chosen at run time on CPUs that have it.
C2AM_AVX2_CLONES void vertical_line(const std::uint8_t* const* rows, const float* w, int count, size_t n, float* line) {
  const std::uint8_t* s0 = rows[0];
  const float w0 = w[0];
  for (size_t i = 0; i < n; ++i) line[i] = w0 * static_cast<float>(s0[i]);
  for (int k = 1; k < count; ++k) {
    const std::uint8_t* s = rows[k];
    const float wk = w[k];
    for (size_t i = 0; i < n; ++i) line[i] += wk * static_cast<float>(s[i]);
  }
}

// Horizontal pass of one row of `channels`-float pixels: output pixel j reads
// pixels first[j] .. first[j] + ksize - 1 of `line` with weights
// w[j * ksize ..] (zero past the pixel's own taps; `line` is zero-padded by
// ksize pixels). Adding a zero-weight tap leaves a sum of finite values
// unchanged, so every output is the sum over its own taps.
void horizontal_line(const float* line, const int* first, const float* w, int ksize, int width, int channels,
                     std::uint8_t* out) {
  for (int j = 0; j < width; ++j) {
    const float* p = line + static_cast<size_t>(first[j]) * channels;
    const float* wj = w + static_cast<size_t>(j) * ksize;
    for (int c = 0; c < channels; ++c) {
      float acc = 0.0f;
      for (int k = 0; k < ksize; ++k) acc += wj[k] * p[k * channels + c];
      out[c] = round_to_u8(acc);
    }
    out += channels;
  }
}

#if defined(__SSE2__)
// RGB: one pixel per SSE register, read as 4 floats at a 3-float stride (the
// fourth lane, the next pixel's red or the padding, is dropped). SSE2 is part
// of x86-64: no dispatch needed. Rounds like round_to_u8.
void horizontal_line_rgb(const float* line, const int* first, const float* w, int ksize, int width,
                         std::uint8_t* out) {
  const __m128 lo = _mm_setzero_ps(), hi = _mm_set1_ps(255.0f), half = _mm_set1_ps(0.5f);
  for (int j = 0; j < width; ++j) {
    const float* p = line + static_cast<size_t>(first[j]) * 3;
    const float* wj = w + static_cast<size_t>(j) * ksize;
    __m128 acc = _mm_setzero_ps();
    for (int k = 0; k < ksize; ++k) acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(wj[k]), _mm_loadu_ps(p + 3 * k)));
    acc = _mm_add_ps(_mm_min_ps(_mm_max_ps(acc, lo), hi), half);
    const __m128i i32 = _mm_cvttps_epi32(acc);
    const __m128i u8 = _mm_packus_epi16(_mm_packs_epi32(i32, i32), i32);
    const std::uint32_t bytes = static_cast<std::uint32_t>(_mm_cvtsi128_si32(u8));
    std::memcpy(out + static_cast<size_t>(j) * 3, &bytes, 3);  // little-endian: R, G, B in the low bytes
  }
}
#else
void horizontal_line_rgb(const float* line, const int* first, const float* w, int ksize, int width,
                         std::uint8_t* out) {
  horizontal_line(line, first, w, ksize, width, 3, out);
}
#endif

#if defined(C2AM_HAVE_AVX2_TARGET)
// Rounds one pair's sums like round_to_u8 and writes its two RGB pixels.
C2AM_AVX2_TARGET inline void store_pair_rgb(__m256 acc, std::uint8_t* out) {
  acc = _mm256_add_ps(_mm256_min_ps(_mm256_max_ps(acc, _mm256_setzero_ps()), _mm256_set1_ps(255.0f)),
                      _mm256_set1_ps(0.5f));
  const __m256i i32 = _mm256_cvttps_epi32(acc);
  const __m128i a = _mm256_castsi256_si128(i32), b = _mm256_extracti128_si256(i32, 1);
  const __m128i u8 = _mm_packus_epi16(_mm_packs_epi32(a, b), a);  // bytes r0 g0 b0 x r1 g1 b1 x
  alignas(16) std::uint8_t bytes[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(bytes), u8);
  std::memcpy(out, bytes, 3);
  std::memcpy(out + 3, bytes + 4, 3);
}

// Tap k of pair p: its two pixels' 4-float loads side by side, times the weights.
C2AM_AVX2_TARGET inline __m256 pair_term(const float* line, const int* first, const float* pairs,
                                                        int ksize, int p, int k) {
  const float* p0 = line + static_cast<size_t>(first[2 * p] + k) * 3;
  const float* p1 = line + static_cast<size_t>(first[2 * p + 1] + k) * 3;
  const __m256 px = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p0)), _mm_loadu_ps(p1), 1);
  return _mm256_mul_ps(_mm256_loadu_ps(pairs + (static_cast<size_t>(p) * ksize + k) * 8), px);
}

// The RGB horizontal pass with AVX2: two output pixels per register, same
// lanes, same operations in the same order as horizontal_line_rgb (so the
// same bits). `pairs` holds, for each pair of output pixels (2p, 2p + 1) and
// tap k, 8 floats: the first pixel's weight 4 times, then the second's;
// pair_count[p]: the taps the pair needs (the larger of the two counts).
// Compiled for AVX2 whatever the build's baseline; called only when the CPU
// has it (cpu_has_avx2).
C2AM_AVX2_TARGET void horizontal_line_rgb_avx2(const float* line, const int* first,
                                                               const float* pairs, const int* pair_count,
                                                               const float* w, int ksize, int width,
                                                               std::uint8_t* out) {
  const int n_pairs = width / 2;
  int p = 0;
  // Four pairs at a time: four independent sums keep the adder busy (one sum
  // alone waits for each add's latency); each lane still adds its taps in order.
  for (; p + 3 < n_pairs; p += 4) {
    const int taps = std::max(std::max(pair_count[p], pair_count[p + 1]), std::max(pair_count[p + 2], pair_count[p + 3]));
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < taps; ++k) {
      a0 = _mm256_add_ps(a0, pair_term(line, first, pairs, ksize, p, k));
      a1 = _mm256_add_ps(a1, pair_term(line, first, pairs, ksize, p + 1, k));
      a2 = _mm256_add_ps(a2, pair_term(line, first, pairs, ksize, p + 2, k));
      a3 = _mm256_add_ps(a3, pair_term(line, first, pairs, ksize, p + 3, k));
    }
    store_pair_rgb(a0, out + static_cast<size_t>(p) * 6);
    store_pair_rgb(a1, out + static_cast<size_t>(p + 1) * 6);
    store_pair_rgb(a2, out + static_cast<size_t>(p + 2) * 6);
    store_pair_rgb(a3, out + static_cast<size_t>(p + 3) * 6);
  }
  for (; p < n_pairs; ++p) {
    __m256 acc = _mm256_setzero_ps();
    for (int k = 0; k < pair_count[p]; ++k) acc = _mm256_add_ps(acc, pair_term(line, first, pairs, ksize, p, k));
    store_pair_rgb(acc, out + static_cast<size_t>(p) * 6);
  }
  const int j = 2 * n_pairs;
  if (j < width)  // an odd last pixel
    horizontal_line_rgb(line, first + j, w + static_cast<size_t>(j) * ksize, ksize, 1, out + static_cast<size_t>(j) * 3);
}

std::atomic<bool> baseline_forced{false};  // detail::force_baseline_simd

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has && !baseline_forced.load(std::memory_order_relaxed);
}
#endif

void fast_window(const Image& src, int out_w, int out_h, const Window& win, bool flip, Filter filter, Image& out) {
  const int ch = src.channels;
  const Coeffs horiz = detail::precompute_coeffs(src.width, out_w, filter);
  const Coeffs vert = detail::precompute_coeffs(src.height, out_h, filter);
  const int ksize = horiz.ksize;
  Scratch& sc = scratch();
  // Float weights of the window's columns (in output order, flip applied),
  // ksize each, zero past the column's own taps; first pixel relative to col0.
  std::vector<int> first(static_cast<size_t>(win.width));
  sc.hw.assign(static_cast<size_t>(win.width) * ksize, 0.0f);
  int col0 = src.width, col1 = 0;
  for (int j = 0; j < win.width; ++j) {
    const int xx = window_column(win, flip, j);
    col0 = std::min(col0, horiz.first[xx]);
    col1 = std::max(col1, horiz.first[xx] + horiz.count[xx]);
  }
  for (int j = 0; j < win.width; ++j) {
    const int xx = window_column(win, flip, j);
    float* w = &sc.hw[static_cast<size_t>(j) * ksize];
    for (int k = 0; k < horiz.count[xx]; ++k)
      w[k] = static_cast<float>(horiz.exact[static_cast<size_t>(xx) * ksize + k]);
    first[static_cast<size_t>(j)] = horiz.first[xx] - col0;
  }
#if defined(C2AM_HAVE_AVX2_TARGET)
  const bool avx2 = ch == 3 && cpu_has_avx2();
  std::vector<int> pair_count;
  if (avx2) {  // the weights of each pair of window columns, interleaved (horizontal_line_rgb_avx2)
    sc.pairs.assign(static_cast<size_t>(win.width / 2) * ksize * 8, 0.0f);
    pair_count.resize(static_cast<size_t>(win.width / 2));
    for (int j = 0; j + 1 < win.width; j += 2) {
      pair_count[static_cast<size_t>(j / 2)] =
          std::max(horiz.count[window_column(win, flip, j)], horiz.count[window_column(win, flip, j + 1)]);
      for (int k = 0; k < ksize; ++k) {
        float* q = &sc.pairs[(static_cast<size_t>(j / 2) * ksize + k) * 8];
        std::fill(q, q + 4, sc.hw[static_cast<size_t>(j) * ksize + k]);
        std::fill(q + 4, q + 8, sc.hw[static_cast<size_t>(j + 1) * ksize + k]);
      }
    }
  }
#endif
  std::vector<float> vw(static_cast<size_t>(vert.ksize));
  std::vector<const std::uint8_t*> rows(static_cast<size_t>(vert.ksize));

  const int span = col1 - col0;
  const size_t n = static_cast<size_t>(span) * ch;
  // Zero padding: ksize pixels for the zero-weight taps past a column's own,
  // plus one float for the RGB path's 4-float load of the last pixel.
  sc.line.assign(n + static_cast<size_t>(ksize) * ch + 1, 0.0f);
  float* const line = sc.line.data();
  reshape(out, win.width, win.height, ch);
  for (int yy = 0; yy < win.height; ++yy) {
    const int y = win.y + yy;
    const int count = vert.count[y];
    for (int k = 0; k < count; ++k) {
      vw[static_cast<size_t>(k)] = static_cast<float>(vert.exact[static_cast<size_t>(y) * vert.ksize + k]);
      rows[static_cast<size_t>(k)] = src.at(col0, vert.first[y] + k);
    }
    vertical_line(rows.data(), vw.data(), count, n, line);
    std::uint8_t* d = out.at(0, yy);
    if (ch == 3) {
#if defined(C2AM_HAVE_AVX2_TARGET)
      if (avx2) {
        horizontal_line_rgb_avx2(line, first.data(), sc.pairs.data(), pair_count.data(), sc.hw.data(), ksize,
                                 win.width, d);
        continue;
      }
#endif
      horizontal_line_rgb(line, first.data(), sc.hw.data(), ksize, win.width, d);
    } else if (ch == 1) {
      horizontal_line(line, first.data(), sc.hw.data(), ksize, win.width, 1, d);
    } else {
      // Any other channel count: one channel at a time through a strided copy.
      sc.plane.assign(static_cast<size_t>(span + ksize), 0.0f);
      sc.res.resize(static_cast<size_t>(win.width));
      for (int c = 0; c < ch; ++c) {
        for (int p = 0; p < span; ++p) sc.plane[static_cast<size_t>(p)] = line[static_cast<size_t>(p) * ch + c];
        horizontal_line(sc.plane.data(), first.data(), sc.hw.data(), ksize, win.width, 1, sc.res.data());
        for (int j = 0; j < win.width; ++j) d[static_cast<size_t>(j) * ch + c] = sc.res[static_cast<size_t>(j)];
      }
    }
  }
}

}  // namespace

void detail::force_baseline_simd(bool on) {
#if defined(C2AM_HAVE_AVX2_TARGET)
  baseline_forced.store(on, std::memory_order_relaxed);
#else
  (void)on;
#endif
}

void resize_window_into(const Image& src, int out_w, int out_h, Window window, bool flip, Resample mode, Image& out,
                        Filter filter) {
  check_arguments(src, out_w, out_h, window);
  if (&out == &src) throw Error("resize_window_into: the output must not be the source image");
  if (mode == Resample::kPil) {
    pil_window(src, out_w, out_h, window, flip, filter, out);
  } else {
    fast_window(src, out_w, out_h, window, flip, filter, out);
  }
}

Image resize_window(const Image& src, int out_w, int out_h, Window window, bool flip, Resample mode,
                    Filter filter) {
  Image out;
  resize_window_into(src, out_w, out_h, window, flip, mode, out, filter);
  return out;
}

}  // namespace c2am::image
