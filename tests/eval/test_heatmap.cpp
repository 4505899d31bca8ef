// Implements: tests of the heat-map overlay, box outlines and contact sheets.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "eval/heatmap.h"
#include "util/error.h"

namespace c2am::eval {
namespace {

using Rgb = std::array<std::uint8_t, 3>;

Rgb pixel(const image::Image& im, int x, int y) {
  const std::uint8_t* p = im.at(x, y);
  return {p[0], p[1], p[2]};
}

image::Image filled(int w, int h, Rgb c) {
  image::Image im(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) std::copy(c.begin(), c.end(), im.at(x, y));
  return im;
}

TEST(Heatmap, JetRunsFromDarkBlueThroughGreenToDarkRed) {
  EXPECT_EQ(jet_colour(0.0f), (Rgb{0, 0, 128}));
  EXPECT_EQ(jet_colour(0.25f), (Rgb{0, 128, 255}));
  EXPECT_EQ(jet_colour(0.5f), (Rgb{128, 255, 128}));
  EXPECT_EQ(jet_colour(1.0f), (Rgb{128, 0, 0}));
  EXPECT_EQ(jet_colour(7.0f), jet_colour(1.0f));  // clamped
}

TEST(Heatmap, OverlayUpsamplesBilinearlyWithCentresAligned) {
  const std::vector<float> map = {0.0f, 1.0f};  // 2 x 1 -> 4 x 1: 0, 0.25, 0.75, 1
  const image::Image image = filled(4, 1, {10, 20, 30});
  const image::Image full = overlay_heatmap(image, MapView{map.data(), 2, 1}, /*alpha=*/1.0);
  ASSERT_EQ(full.channels, 3);
  EXPECT_EQ(pixel(full, 0, 0), jet_colour(0.0f));
  EXPECT_EQ(pixel(full, 1, 0), jet_colour(0.25f));
  EXPECT_EQ(pixel(full, 2, 0), jet_colour(0.75f));
  EXPECT_EQ(pixel(full, 3, 0), jet_colour(1.0f));
  const image::Image none = overlay_heatmap(image, MapView{map.data(), 2, 1}, /*alpha=*/0.0);
  EXPECT_EQ(none.pixels, image.pixels);
  const image::Image half = overlay_heatmap(image, MapView{map.data(), 2, 1}, /*alpha=*/0.5);
  EXPECT_EQ(pixel(half, 0, 0), (Rgb{5, 10, 79}));  // (10 + 0) / 2, (20 + 0) / 2, (30 + 128) / 2
}

TEST(Heatmap, OverlayAcceptsGreyImages) {
  image::Image grey(3, 2, 1);
  std::fill(grey.pixels.begin(), grey.pixels.end(), 100);
  const float zero = 0.0f;
  const image::Image out = overlay_heatmap(grey, MapView{&zero, 1, 1}, 0.0);
  EXPECT_EQ(out.channels, 3);
  EXPECT_EQ(pixel(out, 2, 1), (Rgb{100, 100, 100}));
}

TEST(Heatmap, DrawBoxOutlinesInwardAndClips) {
  image::Image im = filled(10, 10, {0, 0, 0});
  const Rgb green{0, 255, 0};
  draw_box(im, {2, 2, 8, 8}, green, /*thickness=*/1);  // pixels 2..7
  EXPECT_EQ(pixel(im, 2, 2), green);
  EXPECT_EQ(pixel(im, 7, 5), green);
  EXPECT_EQ(pixel(im, 5, 7), green);
  EXPECT_EQ(pixel(im, 8, 5), (Rgb{0, 0, 0}));
  EXPECT_EQ(pixel(im, 3, 3), (Rgb{0, 0, 0}));
  draw_box(im, {2, 2, 8, 8}, green, /*thickness=*/2);
  EXPECT_EQ(pixel(im, 3, 3), green);
  EXPECT_EQ(pixel(im, 4, 4), (Rgb{0, 0, 0}));
  draw_box(im, {-5, -5, 30, 30}, {255, 0, 0}, 2);  // outside edges: nothing inside drawn
  EXPECT_EQ(pixel(im, 0, 0), (Rgb{0, 0, 0}));
  draw_box(im, {0, 0, 0, 0}, {255, 0, 0}, 2);  // the empty box
  EXPECT_EQ(pixel(im, 0, 0), (Rgb{0, 0, 0}));
}

TEST(Heatmap, ContactSheetLaysTilesOutWithPadding) {
  image::Image grey(2, 2, 1);
  std::fill(grey.pixels.begin(), grey.pixels.end(), 50);
  const std::vector<image::Image> tiles = {filled(2, 2, {255, 0, 0}), filled(8, 6, {0, 0, 255}), grey};
  const image::Image sheet = contact_sheet(tiles, /*columns=*/2, /*tile_side=*/4);
  EXPECT_EQ(sheet.width, 4 + 2 * (4 + 4));
  EXPECT_EQ(sheet.height, 4 + 2 * (4 + 4));
  EXPECT_EQ(pixel(sheet, 0, 0), (Rgb{255, 255, 255}));
  EXPECT_EQ(pixel(sheet, 4, 4), (Rgb{255, 0, 0}));
  EXPECT_EQ(pixel(sheet, 7, 7), (Rgb{255, 0, 0}));
  EXPECT_EQ(pixel(sheet, 8, 4), (Rgb{255, 255, 255}));  // padding between tiles
  EXPECT_EQ(pixel(sheet, 12, 4), (Rgb{0, 0, 255}));
  EXPECT_EQ(pixel(sheet, 5, 13), (Rgb{50, 50, 50}));
  EXPECT_EQ(pixel(sheet, 13, 13), (Rgb{255, 255, 255}));  // empty slot
  EXPECT_THROW(contact_sheet({}, 2, 4), Error);
  EXPECT_THROW(contact_sheet(tiles, 0, 4), Error);
}

}  // namespace
}  // namespace c2am::eval
