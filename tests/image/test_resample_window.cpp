// Implements: tests of resize_window (PIL mode byte-identical to crop of the
// full resize, fast mode within its documented bound, flip folded in, errors)
// and of the CHW writers.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "common/error_message.h"
#include "image/chw.h"
#include "image/jpeg.h"
#include "image/resample_coeffs.h"
#include "image/resample_window.h"
#include "image/resize.h"
#include "util/error.h"

namespace c2am::image {
namespace {

Image random_image(std::mt19937& rng, int w, int h, int c) {
  Image img(w, h, c);
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::uint8_t& v : img.pixels) v = static_cast<std::uint8_t>(byte(rng));
  return img;
}

// Photo-like content: smooth shading, a few hard-edged shapes, fine texture,
// then a q90 JPEG round trip (its blocking and ringing) like the packed data.
Image photo_like(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Image img(w, h, 3);
  const double cx = u(rng) * w, cy = u(rng) * h, r = (0.2 + 0.2 * u(rng)) * std::min(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.at(x, y);
      const bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
      for (int c = 0; c < 3; ++c) {
        double v = 90 + 60 * std::sin(0.013 * (c + 1) * x + 0.021 * y) + 25 * std::sin(0.31 * x * (c + 1)) *
                                                                              std::cos(0.27 * y);
        if (inside) v = 200 - 0.3 * v;
        if ((x / 37 + y / 29) % 7 == 0) v = 30 + c * 20;
        v += 12 * (u(rng) - 0.5);
        p[c] = static_cast<std::uint8_t>(std::min(255.0, std::max(0.0, v)));
      }
    }
  const std::vector<std::uint8_t> jpeg = encode_jpeg(img, 90);
  return decode_jpeg(jpeg.data(), jpeg.size(), "photo_like.jpg");
}

Image pil_reference(const Image& src, int out_w, int out_h, Window w, bool flip, Filter filter) {
  const Image full = filter == Filter::kBicubic ? resize_bicubic(src, out_w, out_h) : resize_bilinear(src, out_w, out_h);
  const Image window = crop(full, w.x, w.y, w.width, w.height);
  return flip ? hflip(window) : window;
}

struct Difference {
  int max = 0;
  double mean = 0;
};

Difference difference(const Image& a, const Image& b) {
  Difference d;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= static_cast<double>(a.pixels.size());
  return d;
}

Window random_window(std::mt19937& rng, int out_w, int out_h) {
  std::uniform_int_distribution<int> ww(1, out_w), wh(1, out_h);
  Window w;
  w.width = ww(rng);
  w.height = wh(rng);
  w.x = std::uniform_int_distribution<int>(0, out_w - w.width)(rng);
  w.y = std::uniform_int_distribution<int>(0, out_h - w.height)(rng);
  return w;
}

TEST(ResizeWindow, PilModeIsByteIdenticalToCropOfTheFullResize) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> size(1, 90);
  for (int trial = 0; trial < 400; ++trial) {
    const int channels = trial % 2 == 0 ? 3 : 1;
    const Filter filter = trial % 4 < 2 ? Filter::kBilinear : Filter::kBicubic;
    const bool flip = trial % 3 == 0;
    const Image src = random_image(rng, size(rng), size(rng), channels);
    // Sizes on both sides of the source: enlarging, shrinking, mixed, equal.
    const int out_w = trial % 10 == 0 ? src.width : size(rng);
    const int out_h = trial % 15 == 0 ? src.height : size(rng);
    const Window w = random_window(rng, out_w, out_h);
    const Image got = resize_window(src, out_w, out_h, w, flip, Resample::kPil, filter);
    const Image want = pil_reference(src, out_w, out_h, w, flip, filter);
    ASSERT_EQ(got.width, want.width);
    ASSERT_EQ(got.height, want.height);
    ASSERT_EQ(got.channels, channels);
    ASSERT_EQ(got.pixels, want.pixels) << "trial " << trial << ": " << src.width << "x" << src.height << "x"
                                       << channels << " -> " << out_w << "x" << out_h << " window (" << w.x << ", "
                                       << w.y << ", " << w.width << "x" << w.height << ") flip " << flip;
  }
}

TEST(ResizeWindow, PilModeMatchesTheLoaderTransformOnAPhotoLikeJpeg) {
  const Image src = photo_like(375, 281, 1);  // a 500x375 JPEG decoded with hint 256
  for (const Window w : {Window{0, 0, 224, 224}, Window{32, 32, 224, 224}, Window{17, 5, 224, 224}}) {
    for (bool flip : {false, true}) {
      EXPECT_EQ(resize_window(src, 256, 256, w, flip, Resample::kPil).pixels,
                pil_reference(src, 256, 256, w, flip, Filter::kBilinear).pixels);
    }
  }
}

// The documented bound of kFast (resample_window.h): bilinear at most one
// grey level from PIL in any pixel.
TEST(ResizeWindow, FastBilinearIsWithinOneLevelOfPil) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> size(1, 90);
  for (int trial = 0; trial < 300; ++trial) {
    const int channels = trial % 2 == 0 ? 3 : 1;
    const Image src = random_image(rng, size(rng), size(rng), channels);
    const int out_w = size(rng), out_h = size(rng);
    const Window w = random_window(rng, out_w, out_h);
    const bool flip = trial % 3 == 0;
    const Image got = resize_window(src, out_w, out_h, w, flip, Resample::kFast);
    const Image want = pil_reference(src, out_w, out_h, w, flip, Filter::kBilinear);
    ASSERT_EQ(got.pixels.size(), want.pixels.size());
    ASSERT_LE(difference(got, want).max, 1) << "trial " << trial;
  }
  const Image photo = photo_like(375, 281, 2);
  const Difference d = difference(resize_window(photo, 256, 256, {16, 16, 224, 224}, false, Resample::kFast),
                                  pil_reference(photo, 256, 256, {16, 16, 224, 224}, false, Filter::kBilinear));
  EXPECT_LE(d.max, 1);
  EXPECT_LT(d.mean, 0.5);
}

TEST(ResizeWindow, FastBicubicStaysCloseToPilOnPhotoLikeContent) {
  const Image photo = photo_like(300, 200, 3);
  for (const auto& [out_w, out_h] : {std::array<int, 2>{512, 341}, std::array<int, 2>{150, 100}}) {
    const Window w{10, 10, out_w - 20, out_h - 20};
    const Difference d = difference(resize_window(photo, out_w, out_h, w, false, Resample::kFast, Filter::kBicubic),
                                    pil_reference(photo, out_w, out_h, w, false, Filter::kBicubic));
    EXPECT_LE(d.max, 8) << out_w << "x" << out_h;
    EXPECT_LT(d.mean, 0.5) << out_w << "x" << out_h;
  }
}

TEST(ResizeWindow, FlipEqualsHflipOfTheUnflippedWindowInBothModes) {
  const Image src = photo_like(123, 77, 4);
  const Window w{3, 9, 50, 40};
  for (Resample mode : {Resample::kPil, Resample::kFast}) {
    for (Filter filter : {Filter::kBilinear, Filter::kBicubic}) {
      const Image plain = resize_window(src, 64, 96, w, false, mode, filter);
      EXPECT_EQ(resize_window(src, 64, 96, w, true, mode, filter).pixels, hflip(plain).pixels);
    }
  }
}

TEST(ResizeWindow, OtherChannelCountsWorkInFastMode) {
  std::mt19937 rng(5);
  for (int channels : {1, 2, 4}) {
    const Image src = random_image(rng, 41, 33, channels);
    const Window w{2, 3, 20, 25};
    const Image got = resize_window(src, 30, 50, w, true, Resample::kFast);
    EXPECT_EQ(got.channels, channels);
    EXPECT_LE(difference(got, pil_reference(src, 30, 50, w, true, Filter::kBilinear)).max, 1) << channels;
  }
}

// kFast's arithmetic written out plainly (resample_window.cpp): vertical pass
// in float over the source rows, tap by tap, then the horizontal pass, tap by
// tap from zero, then clamp and round half up. The library's vectorised code
// (SSE2, or AVX2 chosen at run time) must give exactly these bits, so the
// result does not depend on which CPU runs it.
Image fast_reference(const Image& src, int out_w, int out_h, Window win, bool flip) {
  const detail::Coeffs h = detail::precompute_coeffs(src.width, out_w, Filter::kBilinear);
  const detail::Coeffs v = detail::precompute_coeffs(src.height, out_h, Filter::kBilinear);
  const int ch = src.channels;
  Image out(win.width, win.height, ch);
  std::vector<float> line(static_cast<size_t>(src.width) * ch);
  for (int yy = 0; yy < win.height; ++yy) {
    const int y = win.y + yy;
    for (size_t i = 0; i < line.size(); ++i) {
      float acc = 0.0f;
      for (int k = 0; k < v.count[y]; ++k) {
        const float wk = static_cast<float>(v.exact[static_cast<size_t>(y) * v.ksize + k]);
        const float term = wk * static_cast<float>(src.pixels[static_cast<size_t>(v.first[y] + k) * line.size() + i]);
        acc = k == 0 ? term : acc + term;
      }
      line[i] = acc;
    }
    for (int j = 0; j < win.width; ++j) {
      const int xx = flip ? win.x + win.width - 1 - j : win.x + j;
      for (int c = 0; c < ch; ++c) {
        float acc = 0.0f;
        for (int k = 0; k < h.count[xx]; ++k) {
          const float wk = static_cast<float>(h.exact[static_cast<size_t>(xx) * h.ksize + k]);
          acc += wk * line[static_cast<size_t>(h.first[xx] + k) * ch + c];
        }
        acc = std::min(std::max(acc, 0.0f), 255.0f);
        out.at(j, yy)[c] = static_cast<std::uint8_t>(acc + 0.5f);
      }
    }
  }
  return out;
}

TEST(ResizeWindow, FastModeGivesTheSameBitsAsItsPlainArithmeticOnAnyCpu) {
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> size(2, 120);
  for (int trial = 0; trial < 300; ++trial) {
    detail::force_baseline_simd(trial % 3 == 2);  // the SSE2 path too, where the CPU would take AVX2
    const int channels = trial % 4 == 3 ? 1 : 3;
    const Image src = random_image(rng, size(rng), size(rng), channels);
    const int out_w = size(rng), out_h = size(rng);
    const Window w = random_window(rng, out_w, out_h);
    const bool flip = trial % 2 == 0;
    ASSERT_EQ(resize_window(src, out_w, out_h, w, flip, Resample::kFast).pixels,
              fast_reference(src, out_w, out_h, w, flip).pixels)
        << "trial " << trial << ": " << src.width << "x" << src.height << "x" << channels << " -> " << out_w << "x"
        << out_h;
  }
  const Image photo = photo_like(500, 375, 6);  // the loader's case: a full-size decode, resize 256, crop 224
  for (bool baseline : {false, true}) {
    detail::force_baseline_simd(baseline);
    EXPECT_EQ(resize_window(photo, 256, 256, {17, 9, 224, 224}, true, Resample::kFast).pixels,
              fast_reference(photo, 256, 256, {17, 9, 224, 224}, true).pixels)
        << "baseline " << baseline;
  }
  detail::force_baseline_simd(false);
}

TEST(ResizeWindow, AReusedOutputImageEqualsAFreshOne) {
  std::mt19937 rng(8);
  Image reused;
  for (int trial = 0; trial < 40; ++trial) {
    const int channels = trial % 3 == 2 ? 1 : 3;
    const Image src = random_image(rng, 20 + trial * 3, 90 - trial, channels);
    const int out = 16 + (trial * 7) % 50;
    const Window w = random_window(rng, out, out);
    const Resample mode = trial % 2 == 0 ? Resample::kPil : Resample::kFast;
    resize_window_into(src, out, out, w, trial % 5 == 0, mode, reused);
    const Image fresh = resize_window(src, out, out, w, trial % 5 == 0, mode);
    ASSERT_EQ(reused.width, fresh.width);
    ASSERT_EQ(reused.height, fresh.height);
    ASSERT_EQ(reused.channels, fresh.channels);
    ASSERT_EQ(reused.pixels, fresh.pixels) << "trial " << trial;
  }
  Image same = random_image(rng, 10, 10, 3);
  EXPECT_THROW(resize_window_into(same, 8, 8, {0, 0, 8, 8}, false, Resample::kFast, same), Error);
}

TEST(ResizeWindow, WindowsOutsideTheResizedImageAreRejectedWithTheirGeometry) {
  const Image src(40, 30, 3);
  for (const Window w : {Window{-1, 0, 10, 10}, Window{0, 0, 0, 10}, Window{20, 0, 13, 10}, Window{0, 25, 10, 10}}) {
    const std::string message = testing_util::error_message(
        [&] { resize_window(src, 32, 32, w, false, Resample::kFast); }, "(no exception)");
    EXPECT_NE(message.find("not inside the resized 32x32 image"), std::string::npos) << message;
  }
  EXPECT_THROW(resize_window(Image{}, 32, 32, {0, 0, 8, 8}, false, Resample::kPil), Error);
  EXPECT_THROW(resize_window(src, 0, 32, {0, 0, 8, 8}, false, Resample::kPil), Error);
}

TEST(ChwWriters, NormalisedPlanesAreBitIdenticalToTheLoadersLoop) {
  std::mt19937 rng(9);
  const Image rgb = random_image(rng, 37, 23, 3);
  const std::array<double, 3> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};
  const size_t plane = 37 * 23;
  // data::normalise_chw's loop, verbatim.
  std::vector<float> want(3 * plane);
  for (int c = 0; c < 3; ++c) {
    const float scale = static_cast<float>(1.0 / (255.0 * std[c]));
    const float shift = static_cast<float>(mean[c] / std[c]);
    for (size_t p = 0; p < plane; ++p) want[c * plane + p] = rgb.pixels[p * 3 + c] * scale - shift;
  }
  std::vector<float> got(3 * plane);
  write_chw_normalised(rgb, mean, std, got.data());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));

  std::vector<std::uint8_t> bytes(3 * plane);
  write_chw_u8(rgb, bytes.data());
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(bytes[c * plane + p], rgb.pixels[p * 3 + c]);
}

TEST(ChwWriters, RejectNonRgbImages) {
  std::vector<float> f(100);
  std::vector<std::uint8_t> b(100);
  EXPECT_THROW(write_chw_normalised(Image(5, 5, 1), {0, 0, 0}, {1, 1, 1}, f.data()), Error);
  EXPECT_THROW(write_chw_u8(Image(5, 5, 1), b.data()), Error);
}

}  // namespace
}  // namespace c2am::image
