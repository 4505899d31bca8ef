// Implements: the reference's CorLoc / GT-known Loc as a mergeable accumulator.
// tau in {1/20, ..., 19/20}; per tau, an image counts when its largest-contour
// box (scaled into the crop) has plain IoU > 0.5 with any ground-truth box.
// Counts are integers so ranks can sum them exactly (counts() / from_counts()).
#pragma once
#include <cstdint>
#include <string>
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

// How a map becomes the CorLoc box and how it is scored (eval.protocol;
// docs/wsol.md, "Protocols"). The default is the method doc's text (section 7).
struct CorLocProtocol {
  // "reference": x1/y1 clipped to map width - 1 / height - 1 before scaling,
  // as the authors' WSOL code does (wsolevaluation's box extraction).
  bool clip_to_last_pixel = false;
  // "aligned": boxes on the map resampled to the crop with each cell on its
  // receptive-field centre (align_to_crop), not on the map scaled up.
  bool aligned = false;
  // "reference" on ImageNet: the authors' unclamped intersection (iou_unclamped).
  bool unclamped_intersection = false;
  // "reference": ground-truth boxes are not clipped to the crop (the caller's part).
  bool unclipped_ground_truth = false;

  bool operator==(const CorLocProtocol& o) const {
    return clip_to_last_pixel == o.clip_to_last_pixel && aligned == o.aligned &&
           unclamped_intersection == o.unclamped_intersection && unclipped_ground_truth == o.unclipped_ground_truth;
  }
  bool operator!=(const CorLocProtocol& o) const { return !(*this == o); }
};

// The protocols by name, in a fixed order; eval-wsol reports CorLoc under each.
inline const std::vector<std::string>& corloc_protocol_names() {
  static const std::vector<std::string> kNames = {"paper", "reference", "aligned"};
  return kNames;
}

// `name`: paper | reference | aligned (else c2am::Error); `layout`: the
// split's layout ("imagenet" turns on the reference's unclamped intersection).
CorLocProtocol corloc_protocol(const std::string& name, const std::string& layout);

// The protocol's box of `map` at each tau, in crop coordinates (`to_crop`:
// map_to_crop). Used by CorLoc and by extract-boxes' pseudo boxes.
std::vector<image::Box> corloc_boxes(const MapView& map, const Scale& to_crop, const std::vector<double>& taus,
                                     const CorLocProtocol& protocol);

class CorLocAccumulator {
 public:
  explicit CorLocAccumulator(const CorLocProtocol& protocol = {});

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

  // Throws c2am::Error when the two follow different protocols.
  void merge(const CorLocAccumulator& other);

  // Raw counts: [correct(tau_0), ..., correct(tau_18), total]; sum these
  // across ranks and rebuild with from_counts for an exact distributed result.
  std::vector<std::int64_t> counts() const;
  static CorLocAccumulator from_counts(const std::vector<std::int64_t>& counts,
                                       const CorLocProtocol& protocol = {});

  std::int64_t total() const { return total_; }
  CorLocResult result() const;
  const CorLocProtocol& protocol() const { return protocol_; }

 private:
  CorLocProtocol protocol_;
  std::vector<std::int64_t> correct_;
  std::int64_t total_ = 0;
};

// Per tau, whether the box (crop coordinates) has IoU > 0.5 with a ground-truth box.
std::vector<bool> corloc_hits(const std::vector<image::Box>& boxes, const std::vector<image::Box>& gt_boxes,
                              bool unclamped_intersection = false);

// The best plain IoU of `box` against any of `gt_boxes` (0 when none); with
// `unclamped_intersection`, the authors' ILSVRC IoU (iou_unclamped).
double best_iou(const image::Box& box, const std::vector<image::Box>& gt_boxes, bool unclamped_intersection = false);

}  // namespace c2am::eval
