// Implements: the reference's CorLoc / GT-known Loc as a mergeable accumulator.
// tau in {1/20, ..., 19/20}; per tau, an image counts when its largest-contour
// box (scaled into the crop) has plain IoU > 0.5 with any ground-truth box.
// Counts are integers so ranks can sum them exactly (counts() / from_counts()).
#pragma once
#include <cstdint>
#include <vector>

#include "image/image.h"
#include "eval/boxes.h"

namespace c2am::eval {

inline constexpr int kCorLocSteps = 20;                     // NUM_THRESHOLD of the reference
inline constexpr int kCorLocThresholds = kCorLocSteps - 1;  // 19 values of tau
inline constexpr double kCorLocIou = 0.5;                   // strict: IoU > 0.5

struct CorLocResult {
  std::vector<double> thresholds;  // tau_i = (i + 1) / 20
  std::vector<double> accuracy;    // percent, per tau
  double best_threshold = 0.0;     // the first tau of highest accuracy
  double best_accuracy = 0.0;      // percent
  std::int64_t total = 0;
};

class CorLocAccumulator {
 public:
  // clip_to_last_pixel: clip boxes to map width - 1 / height - 1 before
  // scaling, as the authors' WSOL code does (it reuses wsolevaluation's box
  // extraction); off follows the method doc, section 7.
  explicit CorLocAccumulator(bool clip_to_last_pixel = false);

  // The thresholds tau_i = (i + 1) / 20 in double, as Python computes them.
  static std::vector<double> thresholds();

  // One image: `map` at map resolution, `to_crop` its scale into the test crop
  // (map_to_crop), `gt_boxes` in crop coordinates. An image without ground
  // truth counts in the total, never as correct.
  // Returns the image's box per tau (crop coordinates).
  std::vector<image::Box> add(const MapView& map, const Scale& to_crop, const std::vector<image::Box>& gt_boxes);

  // One image whose box per tau is already known (crop coordinates), e.g. a
  // precomputed prediction; boxes.size() must be kCorLocThresholds.
  // Returns, per tau, whether the image counted as correct.
  std::vector<bool> add_boxes(const std::vector<image::Box>& boxes, const std::vector<image::Box>& gt_boxes);

  // Throws c2am::Error when the two clip boxes differently.
  void merge(const CorLocAccumulator& other);

  // Raw counts: [correct(tau_0), ..., correct(tau_18), total]; sum these
  // across ranks and rebuild with from_counts for an exact distributed result.
  std::vector<std::int64_t> counts() const;
  static CorLocAccumulator from_counts(const std::vector<std::int64_t>& counts,
                                       bool clip_to_last_pixel = false);

  std::int64_t total() const { return total_; }
  CorLocResult result() const;

 private:
  bool clip_to_last_pixel_;
  std::vector<std::int64_t> correct_;
  std::int64_t total_ = 0;
};

// Per tau, whether the box (crop coordinates) has IoU > 0.5 with a ground-truth box.
std::vector<bool> corloc_hits(const std::vector<image::Box>& boxes, const std::vector<image::Box>& gt_boxes);

// The best plain IoU of `box` against any of `gt_boxes` (0 when none).
double best_iou(const image::Box& box, const std::vector<image::Box>& gt_boxes);

}  // namespace c2am::eval
