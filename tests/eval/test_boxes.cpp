// Implements: tests of box extraction (wsolevaluation protocol), scaling and IoU
// on crafted maps whose boxes are known by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "eval/boxes.h"
#include "map_builder.h"
#include "util/error.h"

namespace c2am::eval {
namespace {

using testing::MapBuilder;

void expect_box(const image::Box& b, float x0, float y0, float x1, float y1) {
  EXPECT_EQ(b.x0, x0);
  EXPECT_EQ(b.y0, y0);
  EXPECT_EQ(b.x1, x1);
  EXPECT_EQ(b.y1, y1);
}

bool contains(const std::vector<image::Box>& boxes, float x0, float y0, float x1, float y1) {
  return std::any_of(boxes.begin(), boxes.end(), [&](const image::Box& b) {
    return b.x0 == x0 && b.y0 == y0 && b.x1 == x1 && b.y1 == y1;
  });
}

TEST(Boxes, OneBlobGivesItsBoundingRectWithExclusiveCorner) {
  MapBuilder m(10, 8);
  m.fill(2, 3, 5, 6, 1.0f);  // 4 x 4 pixels
  const auto boxes = boxes_at_threshold(m.view(), 0.5);
  ASSERT_EQ(boxes.size(), 1u);
  expect_box(boxes[0], 2, 3, 6, 7);  // (x, y, x + w, y + h)
}

TEST(Boxes, TwoBlobsGiveTheOneOfLargerContourArea) {
  for (bool larger_first : {true, false}) {
    MapBuilder m(12, 8);
    const int small_x = larger_first ? 9 : 1;
    const int large_x = larger_first ? 1 : 5;
    m.fill(small_x, 1, small_x + 1, 2, 1.0f);  // 2 x 2: contourArea 1
    m.fill(large_x, 2, large_x + 2, 5, 1.0f);  // 3 x 4: contourArea 6
    const auto single = boxes_at_threshold(m.view(), 0.5);
    ASSERT_EQ(single.size(), 1u);
    expect_box(single[0], large_x, 2, large_x + 3, 6);

    const auto multi = boxes_at_threshold(m.view(), 0.5, {/*multi_contour=*/true, false});
    ASSERT_EQ(multi.size(), 2u);
    EXPECT_TRUE(contains(multi, large_x, 2, large_x + 3, 6));
    EXPECT_TRUE(contains(multi, small_x, 1, small_x + 2, 3));
  }
}

TEST(Boxes, BlobWithHoleGivesOuterBoxAndHoleContourInTreeMode) {
  MapBuilder m(9, 9);
  m.fill(1, 1, 6, 6, 1.0f).fill(3, 3, 4, 4, 0.0f);
  const auto single = boxes_at_threshold(m.view(), 0.5);
  ASSERT_EQ(single.size(), 1u);
  expect_box(single[0], 1, 1, 7, 7);
  // RETR_TREE also returns the hole, traced along the foreground pixels around it.
  const auto multi = boxes_at_threshold(m.view(), 0.5, {/*multi_contour=*/true, false});
  ASSERT_EQ(multi.size(), 2u);
  EXPECT_TRUE(contains(multi, 1, 1, 7, 7));
  EXPECT_TRUE(contains(multi, 2, 2, 6, 6));
}

TEST(Boxes, BlobTouchingTheBorderIsFoundAndClippedOnlyWhenAsked) {
  MapBuilder m(8, 6);
  m.fill(5, 0, 7, 2, 1.0f);
  expect_box(boxes_at_threshold(m.view(), 0.5)[0], 5, 0, 8, 3);
  expect_box(boxes_at_threshold(m.view(), 0.5, {false, /*clip_to_last_pixel=*/true})[0], 5, 0, 7, 3);

  MapBuilder full(5, 4);
  full.fill(0, 0, 4, 3, 1.0f);
  expect_box(boxes_at_threshold(full.view(), 0.5)[0], 0, 0, 5, 4);
  expect_box(boxes_at_threshold(full.view(), 0.5, {true, true})[0], 0, 0, 4, 3);
}

TEST(Boxes, ZeroMapGivesTheZeroBoxInBothModes) {
  MapBuilder m(7, 5);
  for (bool multi : {false, true}) {
    const auto boxes = boxes_at_threshold(m.view(), 0.0, {multi, true});
    ASSERT_EQ(boxes.size(), 1u);
    expect_box(boxes[0], 0, 0, 0, 0);
  }
}

TEST(Boxes, NestedBlobInsideARingDependsOnTheThreshold) {
  MapBuilder m(12, 12);
  m.fill(1, 1, 10, 10, 0.4f).fill(2, 2, 9, 9, 0.0f).fill(4, 4, 6, 6, 1.0f);
  // tau 0.3: level 76 < 102 (= uint8(0.4 * 255)): ring and blob; the ring is largest.
  expect_box(boxes_at_threshold(m.view(), 0.3)[0], 1, 1, 11, 11);
  const auto multi = boxes_at_threshold(m.view(), 0.3, {/*multi_contour=*/true, false});
  EXPECT_EQ(multi.size(), 3u);  // ring outside, ring hole, nested blob
  EXPECT_TRUE(contains(multi, 1, 1, 11, 11));
  EXPECT_TRUE(contains(multi, 4, 4, 7, 7));
  // tau 0.4: level 102, and THRESH_BINARY keeps only values strictly above it.
  expect_box(boxes_at_threshold(m.view(), 0.4)[0], 4, 4, 7, 7);
}

TEST(Boxes, EightBitConversionTruncatesAndThresholdIsRelativeToMax) {
  MapBuilder m(6, 3);
  m.fill(1, 1, 1, 1, 0.5f);   // uint8(127.5) = 127 = max
  m.fill(2, 1, 2, 1, 0.25f);  // uint8(63.75) = 63
  m.fill(3, 1, 3, 1, 0.26f);  // uint8(66.3) = 66
  const ScoreImage image(m.view());
  EXPECT_EQ(image.max_value(), 127);
  EXPECT_EQ(image.pixels()[1 * 6 + 2], 63);
  EXPECT_EQ(image.level_for(0.5), 63);   // int(63.5)
  EXPECT_EQ(image.level_for(0.15), 19);  // int(19.05)
  // At level 63 the 0.25 pixel (63) drops out: two separate one-pixel regions.
  const auto multi = image.boxes_above(63, {/*multi_contour=*/true, false});
  EXPECT_EQ(multi.size(), 2u);
  EXPECT_TRUE(contains(multi, 1, 1, 2, 2));
  EXPECT_TRUE(contains(multi, 3, 1, 4, 2));
  expect_box(image.boxes_above(62, {})[0], 1, 1, 4, 2);  // at level 62 it joins: one 3-pixel run
}

TEST(Boxes, LevelsMatchPythonArithmetic) {
  MapBuilder m(2, 1);
  m.fill(0, 0, 0, 0, 1.0f);
  const ScoreImage image(m.view());
  ASSERT_EQ(image.max_value(), 255);
  const int expected[] = {12,  25,  38,  51,  63,  76,  89,  102, 114, 127,
                          140, 153, 165, 178, 191, 204, 216, 229, 242};
  for (int i = 0; i < 19; ++i) EXPECT_EQ(image.level_for((i + 1) / 20.0), expected[i]) << "tau index " << i;
  EXPECT_EQ(image.level_for(0.6), 153);
  EXPECT_EQ(image.level_for(698 * 0.001), 177);
  EXPECT_EQ(image.level_for(699 * 0.001), 178);
}

TEST(Boxes, InvalidMapsAreRejected) {
  MapBuilder m(3, 3);
  m.values[4] = 1.5f;
  EXPECT_THROW(ScoreImage{m.view()}, Error);
  m.values[4] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(ScoreImage{m.view()}, Error);
  m.values[4] = -0.01f;
  EXPECT_THROW(ScoreImage{m.view()}, Error);
  EXPECT_THROW(ScoreImage(MapView{}), Error);
}

TEST(Boxes, MapToCropScalesPerAxis) {
  const Scale s = map_to_crop(28, 14, 448, 448);
  EXPECT_DOUBLE_EQ(s.x, 16.0);
  EXPECT_DOUBLE_EQ(s.y, 32.0);
  expect_box(scale_box(image::Box{2, 3, 6, 7}, s), 32, 96, 96, 224);
  EXPECT_THROW(map_to_crop(0, 14, 448, 448), Error);
}

TEST(Boxes, PlainIouHasNoPlusOne) {
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {20, 20, 30, 30}), 0.0);  // disjoint in both axes
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {10, 0, 20, 10}), 0.0);   // touching
  EXPECT_DOUBLE_EQ(iou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.0);        // degenerate union
}

TEST(Boxes, PlusOneIouCountsInclusivePixels) {
  EXPECT_DOUBLE_EQ(iou_plus1({0, 0, 10, 10}, {5, 0, 15, 10}), 66.0 / 176.0);
  EXPECT_DOUBLE_EQ(iou_plus1({0, 0, 0, 0}, {0, 0, 0, 0}), 1.0);                // one pixel each
  EXPECT_DOUBLE_EQ(iou_plus1({0, 0, 10, 10}, {10, 0, 20, 10}), 11.0 / 231.0);  // share a column
  EXPECT_DOUBLE_EQ(iou_plus1({0, 0, 10, 10}, {12, 0, 20, 10}), 0.0);
}

}  // namespace
}  // namespace c2am::eval
