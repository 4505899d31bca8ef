// Implements: tests of the JPEG/PNG codecs and the resize/crop/flip ops.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "common/error_message.h"
#include "common/hostile_images.h"
#include "common/temp_dir.h"
#include "image/jpeg.h"
#include "image/png.h"
#include "image/resize.h"
#include "util/error.h"

namespace c2am::image {
namespace {

using testing_util::TempDir;

Image gradient(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = img.at(x, y);
      p[0] = static_cast<std::uint8_t>(255 * x / (w - 1));
      p[1] = static_cast<std::uint8_t>(255 * y / (h - 1));
      p[2] = static_cast<std::uint8_t>(128 + 60 * std::sin(x * 0.1) * std::cos(y * 0.07));
    }
  return img;
}

double psnr(const Image& a, const Image& b) {
  double se = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) se += std::pow(double(a.pixels[i]) - b.pixels[i], 2);
  return 10 * std::log10(255.0 * 255.0 / (se / a.pixels.size() + 1e-12));
}

Image decode(const std::vector<std::uint8_t>& bytes, int hint = 0) {
  return decode_jpeg(bytes.data(), bytes.size(), "test.jpg", hint);
}

std::string message_of(const std::function<void()>& f) {
  return c2am::testing_util::error_message(f, "(no exception)");
}

TEST(Jpeg, EncodeDecodeRoundTripKeepsHighPsnr) {
  const Image img = gradient(97, 61);
  const Image back = decode(encode_jpeg(img, 95));
  ASSERT_EQ(back.width, 97);
  ASSERT_EQ(back.height, 61);
  ASSERT_EQ(back.channels, 3);
  EXPECT_GT(psnr(img, back), 35.0);
}

TEST(Jpeg, GreyJpegDecodesToThreeEqualChannels) {
  Image grey(40, 30, 1);
  for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = static_cast<std::uint8_t>(i % 200);
  const Image back = decode(encode_jpeg(grey, 90));
  ASSERT_EQ(back.channels, 3);
  for (size_t i = 0; i < grey.pixels.size(); ++i) {
    EXPECT_EQ(back.pixels[3 * i], back.pixels[3 * i + 1]);
    EXPECT_EQ(back.pixels[3 * i], back.pixels[3 * i + 2]);
  }
}

TEST(Jpeg, ScaledDecodePicksSmallestPowerOfTwoFactorKeepingBothSidesAboveHint) {
  const auto bytes = encode_jpeg(gradient(400, 300), 90);
  auto size_for = [&](int hint) {
    const Image img = decode(bytes, hint);
    return std::make_pair(img.width, img.height);
  };
  EXPECT_EQ(size_for(0), std::make_pair(400, 300));
  EXPECT_EQ(size_for(70), std::make_pair(100, 75));     // 1/4
  EXPECT_EQ(size_for(80), std::make_pair(200, 150));    // 1/2 (1/4 gives 75 < 80; 3/8 is not used)
  EXPECT_EQ(size_for(250), std::make_pair(400, 300));   // 1/1 (7/8 would fit, but decodes slower than 1/1)
  EXPECT_EQ(size_for(30), std::make_pair(50, 38));      // 1/8
  EXPECT_EQ(size_for(1000), std::make_pair(400, 300));  // never upscales
  const Image scaled = decode(bytes, 70);
  EXPECT_GT(psnr(resize_bilinear(gradient(400, 300), 100, 75), scaled), 25.0);
}

TEST(Jpeg, DecodingIntoAReusedImageEqualsAFreshDecode) {
  const auto big = encode_jpeg(gradient(400, 300), 90);
  const auto small = encode_jpeg(gradient(64, 48), 90);
  Image reused;
  for (const auto* bytes : {&big, &small, &big}) {
    decode_jpeg_into(reused, bytes->data(), bytes->size(), "test.jpg");
    const Image fresh = decode(*bytes);
    EXPECT_EQ(reused.width, fresh.width);
    EXPECT_EQ(reused.height, fresh.height);
    EXPECT_EQ(reused.channels, 3);
    EXPECT_EQ(reused.pixels, fresh.pixels);
  }
}

TEST(Jpeg, CorruptDataThrowsNamingTheSample) {
  const std::vector<std::uint8_t> garbage = {'n', 'o', 't', ' ', 'a', ' ', 'j', 'p', 'e', 'g', 0, 1, 2, 3};
  const std::string m1 = message_of([&] { decode_jpeg(garbage.data(), garbage.size(), "sample_42"); });
  EXPECT_NE(m1.find("sample_42"), std::string::npos) << m1;
  EXPECT_NE(m1.find("TurboJPEG"), std::string::npos) << m1;

  auto bytes = encode_jpeg(gradient(64, 64), 90);
  bytes.resize(bytes.size() / 2);  // truncated file
  const std::string m2 = message_of([&] { decode_jpeg(bytes.data(), bytes.size(), "train/n01/x.JPEG"); });
  EXPECT_NE(m2.find("train/n01/x.JPEG"), std::string::npos) << m2;
}

// A 3 KB file claiming 30000x30000 (2.7 GB of RGB) or 65500x65500 (12.9 GB,
// std::bad_alloc before the limit) is refused from its header, naming it; the
// same bytes decode (to garbage or an error, never an allocation of that size)
// only when the limit is raised above them.
TEST(Jpeg, HeaderClaimingMorePixelsThanTheLimitIsRefusedBeforeAllocating) {
  for (const int side : {30000, 65500}) {
    const auto bytes = testing_util::jpeg_claiming(side, side);
    const std::string m = message_of([&] { decode_jpeg(bytes.data(), bytes.size(), "huge.jpg"); });
    EXPECT_NE(m.find("cannot decode JPEG 'huge.jpg'"), std::string::npos) << m;
    EXPECT_NE(m.find(fmt::format("{}x{}", side, side)), std::string::npos) << m;
    EXPECT_NE(m.find("more than the limit of 100000000 (data.max_pixels"), std::string::npos) << m;
    // DCT scaling would shrink the output, but the limit is on the stored size.
    const std::string scaled =
        message_of([&] { decode_jpeg(bytes.data(), bytes.size(), "huge.jpg", /*min_side_hint=*/32); });
    EXPECT_NE(scaled.find("limit of 100000000"), std::string::npos) << scaled;
  }
  // The limit is the caller's: 16x8 = 128 pixels pass 128 and fail 127; 0 = none.
  const auto small = encode_jpeg(gradient(16, 8), 90);
  EXPECT_EQ(decode_jpeg(small.data(), small.size(), "s.jpg", 0, nullptr, /*max_pixels=*/128).width, 16);
  const std::string m =
      message_of([&] { decode_jpeg(small.data(), small.size(), "s.jpg", 0, nullptr, 127); });
  EXPECT_NE(m.find("16x8 = 128 pixels, more than the limit of 127"), std::string::npos) << m;
  EXPECT_EQ(decode_jpeg(small.data(), small.size(), "s.jpg", 0, nullptr, /*max_pixels=*/0).height, 8);
}

TEST(Jpeg, DecoderRecoversAfterACorruptHeaderInTheSameThread) {
  // libjpeg-turbo 2.1 leaves a handle whose header read failed broken (the
  // next header read returns 0x0): the cached handle must be renewed.
  const auto good = encode_jpeg(gradient(64, 64), 90);
  auto cut = good;
  cut.resize(cut.size() / 2);  // ends before the SOS marker: a header error
  for (int round = 0; round < 2; ++round) {
    EXPECT_THROW(decode_jpeg(cut.data(), cut.size(), "cut.jpg"), Error);
    const Image img = decode(good);
    EXPECT_EQ(img.width, 64);
    EXPECT_EQ(img.height, 64);
  }
}

TEST(Jpeg, PngMislabelledAsJpegStillDecodes) {
  const Image img = gradient(20, 10);
  const std::string png = encode_png(img);
  const Image back = decode_jpeg(reinterpret_cast<const std::uint8_t*>(png.data()), png.size(), "fake.JPEG");
  EXPECT_EQ(back.pixels, img.pixels);
}

TEST(Jpeg, ReadJpegOfMissingFileNamesThePath) {
  const std::string m = message_of([] { read_jpeg("/nonexistent/c2am/img.jpg"); });
  EXPECT_NE(m.find("/nonexistent/c2am/img.jpg"), std::string::npos) << m;
}

TEST(Png, RgbAndGreyRoundTripExactly) {
  TempDir dir;
  const Image rgb = gradient(33, 17);
  write_png(dir.sub("rgb.png"), rgb);
  const Image rgb_back = read_png(dir.sub("rgb.png"));
  EXPECT_EQ(rgb_back.channels, 3);
  EXPECT_EQ(rgb_back.pixels, rgb.pixels);

  Image grey(13, 7, 1);
  for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = static_cast<std::uint8_t>(i * 3);
  write_png(dir.sub("grey.png"), grey);
  const Image grey_back = read_png(dir.sub("grey.png"));
  EXPECT_EQ(grey_back.channels, 1);
  EXPECT_EQ(grey_back.width, 13);
  EXPECT_EQ(grey_back.pixels, grey.pixels);
}

TEST(Png, PaletteLabelsReadBackAsIndices) {
  TempDir dir;
  Image labels(21, 5, 1);
  for (int x = 0; x < 21; ++x)
    for (int y = 0; y < 5; ++y) *labels.at(x, y) = static_cast<std::uint8_t>(y == 4 ? 255 : x);
  write_png_palette(dir.sub("mask.png"), labels, voc_palette());
  const Image back = read_png(dir.sub("mask.png"));
  EXPECT_EQ(back.channels, 1);
  EXPECT_EQ(back.pixels, labels.pixels);
  // The colours are the VOC ones when the palette is expanded.
  const std::string bytes = encode_png_palette(labels, voc_palette());
  const Image colours =
      decode_png(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "m", true);
  ASSERT_EQ(colours.channels, 3);
  EXPECT_EQ(colours.at(1, 0)[0], 128);
  EXPECT_EQ(colours.at(1, 0)[1], 0);
  EXPECT_EQ(colours.at(0, 4)[0], 224);  // 255 = void
}

TEST(Png, PaletteRejectsLabelOutsidePalette) {
  Image labels(4, 4, 1);
  labels.pixels[5] = 9;
  const std::string m = message_of([&] { encode_png_palette(labels, Palette(4), "bad.png"); });
  EXPECT_NE(m.find("bad.png"), std::string::npos) << m;
  EXPECT_NE(m.find("label 9"), std::string::npos) << m;
}

TEST(Png, VocPaletteMatchesTheStandardColourMap) {
  const Palette p = voc_palette();
  ASSERT_EQ(p.size(), 256u);
  EXPECT_EQ(p[0], (std::array<std::uint8_t, 3>{0, 0, 0}));
  EXPECT_EQ(p[1], (std::array<std::uint8_t, 3>{128, 0, 0}));
  EXPECT_EQ(p[15], (std::array<std::uint8_t, 3>{192, 128, 128}));
  EXPECT_EQ(p[20], (std::array<std::uint8_t, 3>{0, 64, 128}));
  EXPECT_EQ(p[255], (std::array<std::uint8_t, 3>{224, 224, 192}));
}

TEST(Png, SixteenBitGreyRoundTrips) {
  TempDir dir;
  std::vector<std::uint16_t> values(19 * 11);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::uint16_t>(i * 331 % 65536);
  write_png16(dir.sub("map16.png"), 19, 11, values);
  const Grey16 back = read_png16(dir.sub("map16.png"));
  EXPECT_EQ(back.width, 19);
  EXPECT_EQ(back.height, 11);
  EXPECT_EQ(back.values, values);
  // Read as 8 bits, the samples are scaled down.
  const Image eight = read_png(dir.sub("map16.png"));
  EXPECT_EQ(eight.channels, 1);
  EXPECT_EQ(eight.pixels[100], static_cast<std::uint8_t>(std::lround(values[100] / 257.0)));
}

TEST(Png, HeaderClaimingMorePixelsThanTheLimitIsRefusedBeforeAllocating) {
  const auto bytes = testing_util::png_claiming(30000, 30000);
  const std::string m = message_of([&] { decode_png(bytes.data(), bytes.size(), "JPEGImages/huge.png"); });
  EXPECT_NE(m.find("cannot decode PNG 'JPEGImages/huge.png'"), std::string::npos) << m;
  EXPECT_NE(m.find("30000x30000 = 900000000 pixels, more than the limit of 100000000"), std::string::npos)
      << m;
  // Through the JPEG entry point (a PNG named .JPEG) the caller's limit applies too.
  const std::string m2 =
      message_of([&] { decode_jpeg(bytes.data(), bytes.size(), "x.JPEG", 0, nullptr, 1000); });
  EXPECT_NE(m2.find("limit of 1000"), std::string::npos) << m2;
  const auto small = testing_util::png_claiming(16, 8);  // the honest header: decodes
  EXPECT_EQ(decode_png(small.data(), small.size(), "s.png", false, /*max_pixels=*/128).width, 16);
  EXPECT_NE(
      message_of([&] { decode_png(small.data(), small.size(), "s.png", false, 127); }).find("limit of 127"),
      std::string::npos);
}

TEST(Png, ErrorsNameThePath) {
  TempDir dir;
  const std::string missing = dir.sub("missing.png");
  EXPECT_NE(message_of([&] { read_png(missing); }).find(missing), std::string::npos);
  const std::string bad = dir.sub("bad.png");
  write_png(bad, gradient(8, 8));
  const std::string text = "\x89PNG\r\n\x1a\n garbage that is not a PNG stream";
  FILE* f = std::fopen(bad.c_str(), "wb");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  const std::string m = message_of([&] { read_png(bad); });
  EXPECT_NE(m.find(bad), std::string::npos) << m;
  const std::string m2 = message_of([&] { read_png16(dir.sub("none.png")); });
  EXPECT_NE(m2.find("none.png"), std::string::npos) << m2;
}

TEST(Resize, ConstantImageStaysConstant) {
  Image img(37, 23, 3);
  for (size_t i = 0; i < img.pixels.size(); i += 3)
    img.pixels[i] = 17, img.pixels[i + 1] = 200, img.pixels[i + 2] = 255;
  for (auto [w, h] :
       {std::pair{64, 64}, std::pair{11, 5}, std::pair{37, 90}, std::pair{100, 23}, std::pair{1, 1}}) {
    const Image out = resize_bilinear(img, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    for (size_t i = 0; i < out.pixels.size(); i += 3) {
      ASSERT_EQ(out.pixels[i], 17);
      ASSERT_EQ(out.pixels[i + 1], 200);
      ASSERT_EQ(out.pixels[i + 2], 255);
    }
  }
}

TEST(Resize, MatchesHandComputedPilBilinear) {
  Image two(2, 1, 1);
  two.pixels = {0, 100};
  // Enlarging: half-pixel centres 0.25, 0.75, 1.25, 1.75, clamped at the edges.
  EXPECT_EQ(resize_bilinear(two, 4, 1).pixels, (std::vector<std::uint8_t>{0, 25, 75, 100}));
  // Shrinking 4 -> 2: the triangle filter widens to support 2 (PIL antialias):
  // out0 = (0*.75 + 40*.75 + 80*.25) / 1.75 = 28.57, out1 = (40*.25 + 80*.75 + 120*.75) / 1.75 = 91.43.
  Image four(4, 1, 1);
  four.pixels = {0, 40, 80, 120};
  EXPECT_EQ(resize_bilinear(four, 2, 1).pixels, (std::vector<std::uint8_t>{29, 91}));
  // Same along the vertical axis.
  Image col(1, 4, 1);
  col.pixels = {0, 40, 80, 120};
  EXPECT_EQ(resize_bilinear(col, 1, 2).pixels, (std::vector<std::uint8_t>{29, 91}));
}

// PIL itself (Debian's python3-pil) resizes the same noisy image: bicubic and
// nearest must agree byte for byte, shrinking and enlarging, 1 and 3 channels.
TEST(Resize, BicubicAndNearestMatchPilByteForByte) {
  TempDir dir;
  for (int channels : {1, 3}) {
    Image img(29, 17, channels);
    std::uint32_t state = 12345;
    for (std::uint8_t& v : img.pixels) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<std::uint8_t>(state >> 24);
    }
    const std::string in = dir.sub("in" + std::to_string(channels) + ".png");
    write_png(in, img);
    for (auto [w, h] : {std::pair{64, 40}, std::pair{13, 9}, std::pair{29, 50}, std::pair{7, 17}}) {
      for (const char* filter : {"BICUBIC", "NEAREST"}) {
        const std::string out = dir.sub(fmt::format("{}_{}x{}_{}.png", filter, w, h, channels));
        const std::string cmd = fmt::format(
            "/usr/bin/python3 -c \"from PIL import Image; Image.open('{}').resize(({}, {}), "
            "Image.{}).save('{}')\"",
            in, w, h, filter, out);
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << " (needs Debian's python3-pil)";
        const Image pil = read_png(out);
        const Image ours =
            std::string(filter) == "BICUBIC" ? resize_bicubic(img, w, h) : resize_nearest(img, w, h);
        ASSERT_EQ(ours.width, w);
        ASSERT_EQ(ours.height, h);
        EXPECT_EQ(ours.pixels, pil.pixels) << filter << " " << w << "x" << h << " channels " << channels;
      }
    }
  }
}

TEST(Resize, CropFillsOutsideWithZerosAndHflipMirrors) {
  Image img(3, 2, 1);
  img.pixels = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(crop(img, 1, 0, 2, 2).pixels, (std::vector<std::uint8_t>{2, 3, 5, 6}));
  EXPECT_EQ(crop(img, -1, 1, 3, 2).pixels, (std::vector<std::uint8_t>{0, 4, 5, 0, 0, 0}));
  EXPECT_EQ(hflip(img).pixels, (std::vector<std::uint8_t>{3, 2, 1, 6, 5, 4}));
  Image rgb(2, 1, 3);
  rgb.pixels = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(hflip(rgb).pixels, (std::vector<std::uint8_t>{4, 5, 6, 1, 2, 3}));
}

}  // namespace
}  // namespace c2am::image
