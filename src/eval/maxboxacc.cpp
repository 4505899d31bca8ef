// Implements: the MaxBoxAccV2 accumulator (see maxboxacc.h).
#include "eval/maxboxacc.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace c2am::eval {

std::vector<double> MaxBoxAccAccumulator::thresholds(double interval) {
  if (!(interval > 0.0 && interval <= 1.0)) {
    throw Error(fmt::format("MaxBoxAccV2: threshold interval {} is outside (0, 1]", interval));
  }
  // NumPy: length = ceil((stop - start) / step); DOUBLE_fill: start + i * delta,
  // delta = (start + step) - start.
  const double start = 0.0;
  const double delta = (start + interval) - start;
  const auto n = static_cast<size_t>(std::ceil((1.0 - start) / interval));
  std::vector<double> taus(n);
  for (size_t i = 0; i < n; ++i) taus[i] = start + static_cast<double>(i) * delta;
  return taus;
}

MaxBoxAccAccumulator::MaxBoxAccAccumulator(double interval)
    : interval_(interval), taus_(thresholds(interval)) {
  for (auto& c : correct_) c.assign(taus_.size(), 0);
}

void MaxBoxAccAccumulator::add(const MapView& map, const Scale& to_crop,
                               const std::vector<image::Box>& gt_boxes) {
  const ScoreImage image(map);
  const BoxOptions options{/*multi_contour=*/true, /*clip_to_last_pixel=*/true};
  // An 8-bit map has at most max + 1 distinct levels int(tau * max): find the
  // contours once per level, not once per tau.
  std::vector<double> iou_at_level(static_cast<size_t>(image.max_value()) + 1, -1.0);
  auto best_iou_at = [&](int level) {
    double best = 0.0;
    for (const auto& box : image.boxes_above(level, options)) {
      const image::Box scaled = scale_box(box, to_crop);
      for (const auto& gt : gt_boxes) best = std::max(best, iou_plus1(scaled, gt));
    }
    return best;
  };
  for (size_t t = 0; t < taus_.size(); ++t) {
    const int level = image.level_for(taus_[t]);
    double best = 0.0;
    if (level >= 0 && static_cast<size_t>(level) < iou_at_level.size()) {
      double& cached = iou_at_level[static_cast<size_t>(level)];
      if (cached < 0.0) cached = best_iou_at(level);
      best = cached;
    } else {
      best = best_iou_at(level);
    }
    for (int d = 0; d < kMaxBoxAccDeltas; ++d) {
      if (best >= kMaxBoxAccIous[d]) ++correct_[d][t];
    }
  }
  ++total_;
}

void MaxBoxAccAccumulator::merge(const MaxBoxAccAccumulator& other) {
  if (other.taus_.size() != taus_.size() || other.interval_ != interval_) {
    throw Error(
        fmt::format("MaxBoxAccV2: cannot merge interval {} into interval {}", other.interval_, interval_));
  }
  for (int d = 0; d < kMaxBoxAccDeltas; ++d) {
    for (size_t t = 0; t < taus_.size(); ++t) correct_[d][t] += other.correct_[d][t];
  }
  total_ += other.total_;
}

std::vector<std::int64_t> MaxBoxAccAccumulator::counts() const {
  std::vector<std::int64_t> out;
  out.reserve(kMaxBoxAccDeltas * taus_.size() + 1);
  for (const auto& c : correct_) out.insert(out.end(), c.begin(), c.end());
  out.push_back(total_);
  return out;
}

MaxBoxAccAccumulator MaxBoxAccAccumulator::from_counts(const std::vector<std::int64_t>& counts,
                                                       double interval) {
  MaxBoxAccAccumulator acc(interval);
  const size_t n = acc.taus_.size();
  if (counts.size() != kMaxBoxAccDeltas * n + 1) {
    throw Error(fmt::format("MaxBoxAccV2: {} counts given, {} expected for interval {}", counts.size(),
                            kMaxBoxAccDeltas * n + 1, interval));
  }
  acc.total_ = counts.back();
  for (int d = 0; d < kMaxBoxAccDeltas; ++d) {
    for (size_t t = 0; t < n; ++t) {
      const std::int64_t c = counts[d * n + t];
      if (c < 0 || c > acc.total_) {
        throw Error(fmt::format("MaxBoxAccV2: count {} is outside [0, total={}]", c, acc.total_));
      }
      acc.correct_[d][t] = c;
    }
  }
  return acc;
}

MaxBoxAccResult MaxBoxAccAccumulator::result() const {
  MaxBoxAccResult r;
  r.thresholds = taus_;
  r.total = total_;
  double sum = 0.0;
  for (int d = 0; d < kMaxBoxAccDeltas; ++d) {
    auto& curve = r.curves[d];
    curve.assign(taus_.size(), 0.0);
    if (total_ > 0) {
      for (size_t t = 0; t < taus_.size(); ++t) {
        curve[t] = static_cast<double>(correct_[d][t]) * 100.0 / static_cast<double>(total_);
      }
    }
    const auto best = std::max_element(curve.begin(), curve.end());  // the first maximum
    r.max_box_acc[d] = *best;
    r.best_threshold[d] = taus_[static_cast<size_t>(best - curve.begin())];
    sum += r.max_box_acc[d];
  }
  r.max_box_acc_v2 = sum / kMaxBoxAccDeltas;
  return r;
}

}  // namespace c2am::eval
