// Implements: PIL's Resample.c convolution path for the bilinear and bicubic
// filters (precompute_coeffs, 22-bit fixed-point weights, horizontal pass over
// the needed rows, then vertical pass, clip to 8 bits after each), PIL's
// nearest-neighbour resize, crop with zero fill, and hflip.
#include "image/resize.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "image/resample_coeffs.h"
#include "util/error.h"

namespace c2am::image {
namespace {

using detail::clip8;
using detail::Coeffs;
using detail::kPrecisionBits;

// PIL's filters: support and kernel.
struct Kernel {
  double support;
  double (*function)(double);
};

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution with a = -0.5, as PIL's bicubic_filter.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

constexpr Kernel kBilinearKernel{1.0, bilinear_filter};
constexpr Kernel kBicubicKernel{2.0, bicubic_filter};

// Rows [row0, row0 + out.height) of `in`, resampled horizontally into `out`.
void resample_horizontal(const Image& in, int row0, const Coeffs& c, Image& out) {
  const int ch = in.channels;
  for (int y = 0; y < out.height; ++y) {
    const std::uint8_t* src = in.at(0, row0 + y);
    std::uint8_t* dst = out.at(0, y);
    for (int xx = 0; xx < out.width; ++xx) {
      const int* w = &c.weights[static_cast<size_t>(xx) * c.ksize];
      const std::uint8_t* s = src + static_cast<size_t>(c.first[xx]) * ch;
      for (int k = 0; k < ch; ++k) {
        int acc = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < c.count[xx]; ++x) acc += s[x * ch + k] * w[x];
        dst[xx * ch + k] = clip8(acc);
      }
    }
  }
}

// `first` in `c` is relative to row `row0` of `in`.
void resample_vertical(const Image& in, int row0, const Coeffs& c, Image& out) {
  const size_t row_len = static_cast<size_t>(in.width) * in.channels;
  std::vector<int> acc(row_len);
  for (int yy = 0; yy < out.height; ++yy) {
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    const int* w = &c.weights[static_cast<size_t>(yy) * c.ksize];
    for (int y = 0; y < c.count[yy]; ++y) {
      const std::uint8_t* src = in.at(0, c.first[yy] - row0 + y);
      const int wy = w[y];
      for (size_t i = 0; i < row_len; ++i) acc[i] += src[i] * wy;
    }
    std::uint8_t* dst = out.at(0, yy);
    for (size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
}

void check_image(const Image& img, const char* op) {
  if (img.width <= 0 || img.height <= 0 || img.channels <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
    throw Error(fmt::format("{}: invalid {}x{}x{} image with {} bytes", op, img.width, img.height,
                            img.channels, img.pixels.size()));
}

Image resize_with(const Image& img, int width, int height, Filter filter) {
  check_image(img, "resize");
  if (width <= 0 || height <= 0) throw Error(fmt::format("resize: bad target size {}x{}", width, height));
  if (width == img.width && height == img.height) return img;
  const Coeffs horiz = detail::precompute_coeffs(img.width, width, filter);
  const Coeffs vert = detail::precompute_coeffs(img.height, height, filter);
  // Like PIL: only the input rows the vertical pass reads go through the
  // horizontal pass.
  const int row_first = vert.first.front();
  const int row_last = vert.first.back() + vert.count.back();
  const bool need_h = width != img.width;
  const bool need_v = height != img.height;
  Image temp;
  const Image* src = &img;
  int row0 = 0;
  if (need_h) {
    temp = Image(width, need_v ? row_last - row_first : img.height, img.channels);
    row0 = need_v ? row_first : 0;
    resample_horizontal(img, row0, horiz, temp);
    src = &temp;
  }
  if (!need_v) return temp;
  Image out(width, height, img.channels);
  resample_vertical(*src, need_h ? row0 : 0, vert, out);
  return out;
}

}  // namespace

namespace detail {

Coeffs precompute_coeffs(int in_size, int out_size, Filter which) {
  const Kernel& filter = which == Filter::kBicubic ? kBicubicKernel : kBilinearKernel;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  c.exact.assign(static_cast<size_t>(out_size) * c.ksize, 0.0);
  std::vector<double> k(c.ksize);
  const double inv = 1.0 / filter_scale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter.function((x + xmin - center + 0.5) * inv);
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      const double fixed = w * (1 << kPrecisionBits);
      c.exact[static_cast<size_t>(xx) * c.ksize + x] = w;
      c.weights[static_cast<size_t>(xx) * c.ksize + x] = static_cast<int>(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

}  // namespace detail

Image resize_bilinear(const Image& img, int width, int height) {
  return resize_with(img, width, height, Filter::kBilinear);
}

Image resize_bicubic(const Image& img, int width, int height) {
  return resize_with(img, width, height, Filter::kBicubic);
}

Image resize_nearest(const Image& img, int width, int height) {
  check_image(img, "resize");
  if (width <= 0 || height <= 0) throw Error(fmt::format("resize: bad target size {}x{}", width, height));
  std::vector<int> src_x(static_cast<size_t>(width));
  for (int x = 0; x < width; ++x) {
    src_x[static_cast<size_t>(x)] = std::min(img.width - 1, static_cast<int>((x + 0.5) * img.width / width));
  }
  Image out(width, height, img.channels);
  const int ch = img.channels;
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(img.height - 1, static_cast<int>((y + 0.5) * img.height / height));
    const std::uint8_t* src = img.at(0, sy);
    std::uint8_t* dst = out.at(0, y);
    for (int x = 0; x < width; ++x) std::memcpy(dst + x * ch, src + src_x[static_cast<size_t>(x)] * ch, ch);
  }
  return out;
}

Image crop(const Image& img, int x, int y, int width, int height) {
  check_image(img, "crop");
  if (width <= 0 || height <= 0) throw Error(fmt::format("crop: bad window size {}x{}", width, height));
  Image out(width, height, img.channels);
  const int x0 = std::max(x, 0), x1 = std::min(x + width, img.width);
  const int y0 = std::max(y, 0), y1 = std::min(y + height, img.height);
  if (x0 >= x1 || y0 >= y1) return out;
  const size_t bytes = static_cast<size_t>(x1 - x0) * img.channels;
  for (int yy = y0; yy < y1; ++yy) std::memcpy(out.at(x0 - x, yy - y), img.at(x0, yy), bytes);
  return out;
}

Image hflip(const Image& img) {
  check_image(img, "hflip");
  Image out(img.width, img.height, img.channels);
  const int ch = img.channels;
  for (int y = 0; y < img.height; ++y) {
    const std::uint8_t* src = img.at(0, y);
    std::uint8_t* dst = out.at(img.width - 1, y);
    for (int x = 0; x < img.width; ++x, src += ch, dst -= ch) std::memcpy(dst, src, ch);
  }
  return out;
}

}  // namespace c2am::image
