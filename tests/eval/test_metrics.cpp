// Implements: tests of the CorLoc and MaxBoxAccV2 accumulators on small cases
// computed by hand, and of exact merging (as ranks would all-reduce counts).
#include <gtest/gtest.h>

#include <vector>

#include "eval/corloc.h"
#include "eval/maxboxacc.h"
#include "map_builder.h"
#include "util/error.h"

namespace c2am::eval {
namespace {

using testing::MapBuilder;

struct Sample {
  MapBuilder map;
  Scale to_crop;
  std::vector<image::Box> gt;
};

// CorLoc case, maps 10 x 10 scaled x2 into a 20 x 20 crop.
//  A: core 1.0 at [2,5]^2 inside a 0.5 plateau at [0,7]^2. tau <= 0.45 (level <= 114
//     < 127) gives (0,0,8,8)*2, IoU 0.25 with gt; tau >= 0.5 gives the core, IoU 1.
//  B: 1.0 at [0,7]^2 -> (0,0,16,16); gt: a far box and (0,0,16,12), IoU 0.75: hit
//     at every tau through the second gt box.
//  C: zero map -> (0,0,0,0): never.
//  D: 1.0 at [0,7]^2 -> (0,0,16,16) against (0,0,16,8): IoU exactly 0.5, not > 0.5.
std::vector<Sample> corloc_samples() {
  const Scale x2{2.0, 2.0};
  std::vector<Sample> s;
  s.push_back({MapBuilder(10, 10), x2, {{4, 4, 12, 12}}});
  s.back().map.fill(0, 0, 7, 7, 0.5f).fill(2, 2, 5, 5, 1.0f);
  s.push_back({MapBuilder(10, 10), x2, {{100, 100, 110, 110}, {0, 0, 16, 12}}});
  s.back().map.fill(0, 0, 7, 7, 1.0f);
  s.push_back({MapBuilder(10, 10), x2, {{0, 0, 4, 4}}});
  s.push_back({MapBuilder(10, 10), x2, {{0, 0, 16, 8}}});
  s.back().map.fill(0, 0, 7, 7, 1.0f);
  return s;
}

TEST(CorLoc, HandComputedCaseCountsPerThreshold) {
  CorLocAccumulator acc;
  for (const auto& s : corloc_samples()) acc.add(s.map.view(), s.to_crop, s.gt);
  const CorLocResult r = acc.result();
  ASSERT_EQ(r.thresholds.size(), 19u);
  EXPECT_EQ(r.total, 4);
  for (int i = 0; i < 19; ++i) {
    EXPECT_DOUBLE_EQ(r.thresholds[i], (i + 1) / 20.0);
    EXPECT_DOUBLE_EQ(r.accuracy[i], i < 9 ? 25.0 : 50.0) << "tau " << r.thresholds[i];
  }
  EXPECT_DOUBLE_EQ(r.best_threshold, 0.5);  // the first tau of highest accuracy
  EXPECT_DOUBLE_EQ(r.best_accuracy, 50.0);
  std::vector<std::int64_t> expected(19, 1);
  for (int i = 9; i < 19; ++i) expected[i] = 2;
  expected.push_back(4);
  EXPECT_EQ(acc.counts(), expected);
}

TEST(CorLoc, ClippingLikeTheAuthorsCodeChangesTheBox) {
  // 4 x 4 map of ones, x4 into 16 x 16: box (0,0,16,16), or (0,0,12,12) clipped.
  MapBuilder m(4, 4);
  m.fill(0, 0, 3, 3, 1.0f);
  const std::vector<image::Box> gt = {{4, 4, 16, 16}};
  CorLocAccumulator doc_rule;
  CorLocAccumulator authors(corloc_protocol("reference", "cub"));
  doc_rule.add(m.view(), {4.0, 4.0}, gt);  // IoU 144 / 256 = 0.5625
  authors.add(m.view(), {4.0, 4.0}, gt);   // IoU 64 / 224 = 0.286
  EXPECT_DOUBLE_EQ(doc_rule.result().best_accuracy, 100.0);
  EXPECT_DOUBLE_EQ(authors.result().best_accuracy, 0.0);
}

TEST(CorLoc, MergeOfTwoAccumulatorsEqualsOneOverAllImages) {
  const auto samples = corloc_samples();
  CorLocAccumulator all, first, second;
  for (size_t i = 0; i < samples.size(); ++i) {
    all.add(samples[i].map.view(), samples[i].to_crop, samples[i].gt);
    (i % 2 == 0 ? first : second).add(samples[i].map.view(), samples[i].to_crop, samples[i].gt);
  }
  // An all-reduce: element-wise sum of the raw counts, then rebuild.
  std::vector<std::int64_t> summed = first.counts();
  const auto other = second.counts();
  for (size_t i = 0; i < summed.size(); ++i) summed[i] += other[i];
  EXPECT_EQ(CorLocAccumulator::from_counts(summed).counts(), all.counts());

  first.merge(second);
  EXPECT_EQ(first.counts(), all.counts());
  EXPECT_EQ(first.result().accuracy, all.result().accuracy);
}

TEST(CorLoc, BadCountsAreRejected) {
  EXPECT_THROW(CorLocAccumulator::from_counts(std::vector<std::int64_t>(5, 0)), Error);
  std::vector<std::int64_t> too_many(20, 0);
  too_many[0] = 3;  // more correct than total
  EXPECT_THROW(CorLocAccumulator::from_counts(too_many), Error);
  CorLocAccumulator acc;
  EXPECT_THROW(acc.add_boxes({image::Box{}}, {}), Error);
}

TEST(CorLoc, EmptyAccumulatorReportsZero) {
  const auto r = CorLocAccumulator().result();
  EXPECT_EQ(r.total, 0);
  EXPECT_DOUBLE_EQ(r.best_accuracy, 0.0);
}

// MaxBoxAccV2 case, gt boxes in the +1 (inclusive) convention:
//  1: core 1.0 at [2,5]^2 in a 0.5 plateau at [0,7]^2 (10 x 10, x1). Levels < 127
//     (tau index <= 498) give (0,0,8,8): IoU+1 16/81; from index 499 the core
//     (2,2,6,6) against gt (2,2,5,5): 16/25 = 0.64 -> delta 0.3 and 0.5.
//  2: ones on 10 x 10, x2: (0,0,10,10) clipped to (0,0,9,9) -> (0,0,18,18) against
//     (2,2,18,18): 289/361 = 0.80 -> every delta at every tau (unclipped: 0.655).
//  3: 1.0 at [0,5]^2 and 0.7 (uint8 178) at [9,10]^2 on 12 x 12; gt (9,9,10,10).
//     Levels < 178 (index <= 698) also give the small blob's box (9,9,11,11):
//     IoU+1 4/9 = 0.44 -> delta 0.3 only, and only with multi-contour boxes.
//  4: zero map -> (0,0,0,0), one pixel under +1, against (0,0,1,0): IoU 1/2 exactly,
//     counted by ">= 0.5" -> delta 0.3 and 0.5 at every tau.
std::vector<Sample> maxboxacc_samples() {
  std::vector<Sample> s;
  s.push_back({MapBuilder(10, 10), {1.0, 1.0}, {{2, 2, 5, 5}}});
  s.back().map.fill(0, 0, 7, 7, 0.5f).fill(2, 2, 5, 5, 1.0f);
  s.push_back({MapBuilder(10, 10), {2.0, 2.0}, {{2, 2, 18, 18}}});
  s.back().map.fill(0, 0, 9, 9, 1.0f);
  s.push_back({MapBuilder(12, 12), {1.0, 1.0}, {{9, 9, 10, 10}}});
  s.back().map.fill(0, 0, 5, 5, 1.0f).fill(9, 9, 10, 10, 0.7f);
  s.push_back({MapBuilder(8, 8), {1.0, 1.0}, {{0, 0, 1, 0}}});
  return s;
}

TEST(MaxBoxAccV2, ThresholdsAreNumpyArange) {
  const auto taus = MaxBoxAccAccumulator::thresholds();
  ASSERT_EQ(taus.size(), 1000u);
  EXPECT_EQ(taus[0], 0.0);
  EXPECT_EQ(taus[1], 0.001);
  EXPECT_EQ(taus[999], 999 * 0.001);
  EXPECT_EQ(MaxBoxAccAccumulator::thresholds(0.01).size(), 100u);
}

TEST(MaxBoxAccV2, HandComputedCaseWithPlusOneAndClipping) {
  MaxBoxAccAccumulator acc;
  for (const auto& s : maxboxacc_samples()) acc.add(s.map.view(), s.to_crop, s.gt);
  const MaxBoxAccResult r = acc.result();
  EXPECT_EQ(r.total, 4);
  for (size_t i = 0; i < 1000; ++i) {
    const int d30 = 2 + (i >= 499) + (i <= 698);
    const int d50 = 2 + (i >= 499);
    ASSERT_DOUBLE_EQ(r.curves[0][i], d30 * 25.0) << "tau index " << i;
    ASSERT_DOUBLE_EQ(r.curves[1][i], d50 * 25.0) << "tau index " << i;
    ASSERT_DOUBLE_EQ(r.curves[2][i], 25.0) << "tau index " << i;
  }
  EXPECT_DOUBLE_EQ(r.max_box_acc[0], 100.0);
  EXPECT_DOUBLE_EQ(r.max_box_acc[1], 75.0);
  EXPECT_DOUBLE_EQ(r.max_box_acc[2], 25.0);
  EXPECT_DOUBLE_EQ(r.best_threshold[0], 499 * 0.001);
  EXPECT_DOUBLE_EQ(r.best_threshold[1], 499 * 0.001);
  EXPECT_DOUBLE_EQ(r.best_threshold[2], 0.0);
  EXPECT_DOUBLE_EQ(r.max_box_acc_v2, 200.0 / 3.0);
}

TEST(MaxBoxAccV2, MergeOfTwoAccumulatorsEqualsOneOverAllImages) {
  const auto samples = maxboxacc_samples();
  MaxBoxAccAccumulator all, first, second;
  for (size_t i = 0; i < samples.size(); ++i) {
    all.add(samples[i].map.view(), samples[i].to_crop, samples[i].gt);
    (i < 1 ? first : second).add(samples[i].map.view(), samples[i].to_crop, samples[i].gt);
  }
  std::vector<std::int64_t> summed = first.counts();
  const auto other = second.counts();
  ASSERT_EQ(summed.size(), 3u * 1000u + 1u);
  for (size_t i = 0; i < summed.size(); ++i) summed[i] += other[i];
  EXPECT_EQ(MaxBoxAccAccumulator::from_counts(summed).counts(), all.counts());

  first.merge(second);
  EXPECT_EQ(first.counts(), all.counts());
  EXPECT_DOUBLE_EQ(first.result().max_box_acc_v2, all.result().max_box_acc_v2);
}

TEST(MaxBoxAccV2, MismatchedIntervalsDoNotMerge) {
  MaxBoxAccAccumulator fine, coarse(0.01);
  EXPECT_THROW(fine.merge(coarse), Error);
  EXPECT_THROW(MaxBoxAccAccumulator::from_counts(fine.counts(), 0.01), Error);
  EXPECT_THROW(MaxBoxAccAccumulator(0.0), Error);
}

}  // namespace
}  // namespace c2am::eval
