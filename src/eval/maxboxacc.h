// Implements: MaxBoxAccV2 of clovaai/wsolevaluation as a mergeable accumulator.
// tau over np.arange(0, 1, 0.001); every contour gives a box (clipped to map
// width - 1 / height - 1, then scaled into the crop) and the best-matching one
// counts; IoU with the +1 pixel convention; BoxAcc(tau, delta) = share of
// images with IoU >= delta; MaxBoxAccV2 = mean over delta in {0.3, 0.5, 0.7}
// of max over tau. Integer counts merge exactly across ranks.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "image/image.h"
#include "eval/boxes.h"

namespace c2am::eval {

inline constexpr double kMaxBoxAccInterval = 0.001;  // wsolevaluation's cam_curve_interval
inline constexpr int kMaxBoxAccDeltas = 3;
inline constexpr std::array<double, kMaxBoxAccDeltas> kMaxBoxAccIous = {0.3, 0.5, 0.7};

struct MaxBoxAccResult {
  std::vector<double> thresholds;  // tau
  std::array<double, kMaxBoxAccDeltas> deltas = kMaxBoxAccIous;
  std::array<std::vector<double>, kMaxBoxAccDeltas> curves;  // BoxAcc(tau, delta), percent
  std::array<double, kMaxBoxAccDeltas> max_box_acc{};        // max over tau, percent
  std::array<double, kMaxBoxAccDeltas> best_threshold{};     // first tau reaching it
  double max_box_acc_v2 = 0.0;                               // mean of max_box_acc, percent
  std::int64_t total = 0;
};

class MaxBoxAccAccumulator {
 public:
  explicit MaxBoxAccAccumulator(double interval = kMaxBoxAccInterval);

  // np.arange(0, 1, interval) exactly as NumPy fills it: tau_i = 0 + i * interval.
  static std::vector<double> thresholds(double interval = kMaxBoxAccInterval);

  // One image: `map` (any resolution; wsolevaluation uses maps resized to the
  // image), `to_crop` its scale into the coordinates of `gt_boxes`. An image
  // without ground truth counts in the total, never as correct.
  void add(const MapView& map, const Scale& to_crop, const std::vector<image::Box>& gt_boxes);

  // Throws c2am::Error when the two were built with different intervals.
  void merge(const MaxBoxAccAccumulator& other);

  // Raw counts, delta-major: [delta_0: tau_0 .. tau_{n-1}, delta_1: ..., delta_2: ..., total].
  std::vector<std::int64_t> counts() const;
  static MaxBoxAccAccumulator from_counts(const std::vector<std::int64_t>& counts,
                                          double interval = kMaxBoxAccInterval);

  double interval() const { return interval_; }
  size_t num_thresholds() const { return taus_.size(); }
  std::int64_t total() const { return total_; }
  MaxBoxAccResult result() const;

 private:
  double interval_;
  std::vector<double> taus_;
  std::array<std::vector<std::int64_t>, kMaxBoxAccDeltas> correct_;
  std::int64_t total_ = 0;
};

}  // namespace c2am::eval
