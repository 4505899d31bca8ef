// Implements: tests of the segmentation scores and of CAM refinement on
// hand-made masks and maps (every expected figure computed by hand below).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "util/error.h"
#include "wsss/refine.h"
#include "wsss/seg_metrics.h"

namespace c2am::wsss {
namespace {

// 4 x 2 ground truth with one void pixel, and a prediction:
//   gt   0 0 1 1 / 0 2 2 255      pred 0 1 1 1 / 2 2 0 0
// class 0: T = 3, P = 2 (the void pixel does not count), TP = 1 -> IoU 1/4
// class 1: T = 2, P = 3, TP = 2 -> IoU 2/3, FP (3-2)/3, FN 0
// class 2: T = 2, P = 2, TP = 1 -> IoU 1/3, FP 1/3, FN 1/3
TEST(SegScores, HandMadeMasksGiveHandComputedIoUsAndRates) {
  const std::vector<std::uint8_t> gt = {0, 0, 1, 1, 0, 2, 2, 255};
  const std::vector<std::uint8_t> pred = {0, 1, 1, 1, 2, 2, 0, 0};
  SegCounts c(21);
  c.add(pred.data(), gt.data(), gt.size(), "hand");
  EXPECT_EQ(c.pixels, 7);
  const SegScores s = score(c);
  EXPECT_DOUBLE_EQ(s.iou[0], 0.25);
  EXPECT_DOUBLE_EQ(s.iou[1], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.iou[2], 1.0 / 3.0);
  for (int k = 3; k < 21; ++k) EXPECT_TRUE(std::isnan(s.iou[static_cast<size_t>(k)])) << k;
  EXPECT_EQ(s.classes_scored, 3);
  EXPECT_DOUBLE_EQ(s.miou, (0.25 + 2.0 / 3.0 + 1.0 / 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(s.miou_foreground, 0.5);
  EXPECT_DOUBLE_EQ(s.fp, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.fn, 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(s.pixel_accuracy, 4.0 / 7.0);
}

TEST(SegScores, CountsOfTwoHalvesMergeToTheWholeAndAPerfectPredictionScoresOne) {
  const std::vector<std::uint8_t> gt = {0, 0, 1, 1, 0, 2, 2, 255};
  const std::vector<std::uint8_t> pred = {0, 1, 1, 1, 2, 2, 0, 0};
  SegCounts whole(21), a(21), b(21);
  whole.add(pred.data(), gt.data(), 8, "whole");
  a.add(pred.data(), gt.data(), 4, "first half");
  b.add(pred.data() + 4, gt.data() + 4, 4, "second half");
  a.merge(b);
  EXPECT_EQ(a.tp, whole.tp);
  EXPECT_EQ(a.pred, whole.pred);
  EXPECT_EQ(a.gt, whole.gt);
  SegCounts perfect(21);
  perfect.add(gt.data(), gt.data(), 8, "perfect");
  const SegScores s = score(perfect);
  EXPECT_DOUBLE_EQ(s.miou, 1.0);
  EXPECT_DOUBLE_EQ(s.fp, 0.0);
  EXPECT_DOUBLE_EQ(s.fn, 0.0);
}

TEST(SegScores, AClassPredictedButAbsentFromTheTruthScoresZero) {
  const std::vector<std::uint8_t> gt = {0, 0, 0, 0};
  const std::vector<std::uint8_t> pred = {0, 0, 5, 5};
  SegCounts c(21);
  c.add(pred.data(), gt.data(), 4, "fp");
  const SegScores s = score(c);
  EXPECT_DOUBLE_EQ(s.iou[0], 0.5);
  EXPECT_DOUBLE_EQ(s.iou[5], 0.0);
  EXPECT_DOUBLE_EQ(s.miou, 0.25);
  EXPECT_DOUBLE_EQ(s.fp, 1.0);  // (P - TP) / (T + P - TP) = 2 / 2
}

TEST(SegScores, OutOfRangeLabelsAreErrorsNamingTheImage) {
  const std::vector<std::uint8_t> gt = {0, 21};
  const std::vector<std::uint8_t> ok = {0, 0};
  SegCounts c(21);
  try {
    c.add(ok.data(), gt.data(), 2, "2007_000032.png");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2007_000032.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ground-truth label 21"), std::string::npos) << e.what();
  }
}

TEST(SegScores, JsonNamesEveryClassWithNullForTheAbsentOnes) {
  const std::vector<std::uint8_t> gt = {0, 1};
  SegCounts c(21);
  c.add(gt.data(), gt.data(), 2, "x");
  const std::string j = scores_json(score(c), c, voc_class_names());
  EXPECT_NE(j.find("\"background\":1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"aeroplane\":1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"tvmonitor\":null"), std::string::npos) << j;
  EXPECT_NE(j.find("\"miou\":1"), std::string::npos) << j;
}

// 2 x 2 image, classes 3 and 7:
//   map3 = .9 .2 / .5 .1    map7 = .1 .6 / .5 .05
TEST(Refine, ArgmaxOverBackgroundAndClassCamsWithTiesToTheEarlier) {
  const std::vector<int> keys = {3, 7};
  const std::vector<float> values = {0.9f, 0.2f, 0.5f, 0.1f, 0.1f, 0.6f, 0.5f, 0.05f};
  const CamView cams{keys, 2, 2, values};
  // Constant background 0.3: pixel 2 is a tie between the classes -> the earlier key.
  EXPECT_EQ(pseudo_mask(cams, nullptr, 0.3, "t"), (std::vector<std::uint8_t>{3, 7, 3, 0}));
  // A background score equal to the CAM wins the tie.
  EXPECT_EQ(pseudo_mask(cams, nullptr, 0.5, "t"), (std::vector<std::uint8_t>{3, 7, 0, 0}));
  // Cues: background = 1 - cue / 255 = 0, 1, 0.498, 0.
  const std::vector<std::uint8_t> cue = {255, 0, 128, 255};
  EXPECT_EQ(pseudo_mask(cams, cue.data(), 0.3, "t"), (std::vector<std::uint8_t>{3, 0, 3, 3}));
}

TEST(Refine, NoCamsGiveAllBackgroundAndBadShapesAreErrors) {
  const std::vector<int> none;
  const std::vector<float> empty;
  EXPECT_EQ(pseudo_mask(CamView{none, 3, 1, empty}, nullptr, 0.3, "t"), (std::vector<std::uint8_t>{0, 0, 0}));
  const std::vector<int> keys = {3};
  const std::vector<float> short_values = {0.5f};
  EXPECT_THROW(pseudo_mask(CamView{keys, 2, 1, short_values}, nullptr, 0.3, "t"), Error);
  const std::vector<int> bad_key = {0};
  const std::vector<float> one = {0.5f};
  EXPECT_THROW(pseudo_mask(CamView{bad_key, 1, 1, one}, nullptr, 0.3, "t"), Error);
}

TEST(Refine, SweepEqualsOnePseudoMaskPerThreshold) {
  const std::vector<int> keys = {3, 7};
  const std::vector<float> values = {0.9f, 0.2f, 0.5f, 0.1f, 0.1f, 0.6f, 0.5f, 0.05f};
  const CamView cams{keys, 2, 2, values};
  const std::vector<std::uint8_t> gt = {3, 7, 0, 255};
  const std::vector<double> thresholds = default_bg_thresholds();
  ASSERT_EQ(thresholds.size(), 15u);
  EXPECT_DOUBLE_EQ(thresholds.front(), 0.05);
  EXPECT_DOUBLE_EQ(thresholds.back(), 0.75);
  std::vector<SegCounts> swept(thresholds.size(), SegCounts(21));
  add_threshold_sweep(cams, gt.data(), thresholds, swept, "t");
  for (size_t j = 0; j < thresholds.size(); ++j) {
    SegCounts direct(21);
    const auto mask = pseudo_mask(cams, nullptr, thresholds[j], "t");
    direct.add(mask.data(), gt.data(), mask.size(), "t");
    EXPECT_EQ(swept[j].tp, direct.tp) << thresholds[j];
    EXPECT_EQ(swept[j].pred, direct.pred) << thresholds[j];
  }
}

}  // namespace
}  // namespace c2am::wsss
