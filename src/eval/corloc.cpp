// Implements: the CorLoc / GT-known Loc accumulator (see corloc.h).
#include "eval/corloc.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace c2am::eval {

CorLocProtocol corloc_protocol(const std::string& name, const std::string& layout) {
  CorLocProtocol p;
  if (name == "reference") {
    p.clip_to_last_pixel = true;
    p.unclipped_ground_truth = true;
    p.unclamped_intersection = layout == "imagenet";
  } else if (name == "aligned") {
    p.aligned = true;
  } else if (name != "paper") {
    throw Error(fmt::format("CorLoc: unknown protocol '{}' (paper, reference or aligned)", name));
  }
  return p;
}

CorLocAccumulator::CorLocAccumulator(const CorLocProtocol& protocol)
    : protocol_(protocol), correct_(kCorLocThresholds, 0) {}

std::vector<double> CorLocAccumulator::thresholds() {
  std::vector<double> taus(kCorLocThresholds);
  // Python: [(i + 1) / NUM_THRESHOLD for i in range(NUM_THRESHOLD - 1)]
  for (int i = 0; i < kCorLocThresholds; ++i) taus[i] = static_cast<double>(i + 1) / kCorLocSteps;
  return taus;
}

double best_iou(const image::Box& box, const std::vector<image::Box>& gt_boxes, bool unclamped_intersection) {
  double best = 0.0;
  for (const auto& gt : gt_boxes) best = std::max(best, unclamped_intersection ? iou_unclamped(box, gt) : iou(box, gt));
  return best;
}

std::vector<image::Box> corloc_boxes(const MapView& map, const Scale& to_crop, const std::vector<double>& taus,
                                     const CorLocProtocol& protocol) {
  std::vector<float> aligned;
  MapView source = map;
  Scale scale = to_crop;
  if (protocol.aligned) {  // boxes found at crop resolution: no scaling after
    const int crop_w = static_cast<int>(std::lround(map.width * to_crop.x));
    const int crop_h = static_cast<int>(std::lround(map.height * to_crop.y));
    aligned = align_to_crop(map, crop_w, crop_h);
    source = MapView{aligned.data(), crop_w, crop_h};
    scale = Scale{};
  }
  const ScoreImage image(source);
  const BoxOptions options{/*multi_contour=*/false, protocol.clip_to_last_pixel};
  std::vector<image::Box> boxes;
  boxes.reserve(taus.size());
  for (double tau : taus) boxes.push_back(scale_box(image.boxes_above(image.level_for(tau), options)[0], scale));
  return boxes;
}

std::vector<image::Box> CorLocAccumulator::add(const MapView& map, const Scale& to_crop,
                                              const std::vector<image::Box>& gt_boxes) {
  std::vector<image::Box> boxes = corloc_boxes(map, to_crop, thresholds(), protocol_);
  add_boxes(boxes, gt_boxes);
  return boxes;
}

std::vector<bool> CorLocAccumulator::add_boxes(const std::vector<image::Box>& boxes,
                                               const std::vector<image::Box>& gt_boxes) {
  if (boxes.size() != correct_.size()) {
    throw Error(fmt::format("CorLoc: {} boxes given, one per threshold ({}) expected", boxes.size(),
                            correct_.size()));
  }
  const std::vector<bool> hit = corloc_hits(boxes, gt_boxes, protocol_.unclamped_intersection);
  for (size_t i = 0; i < boxes.size(); ++i)
    if (hit[i]) ++correct_[i];
  ++total_;
  return hit;
}

std::vector<bool> corloc_hits(const std::vector<image::Box>& boxes, const std::vector<image::Box>& gt_boxes,
                              bool unclamped_intersection) {
  std::vector<bool> hit(boxes.size(), false);
  for (size_t i = 0; i < boxes.size(); ++i) hit[i] = best_iou(boxes[i], gt_boxes, unclamped_intersection) > kCorLocIou;
  return hit;
}

void CorLocAccumulator::merge(const CorLocAccumulator& other) {
  if (other.protocol_ != protocol_) {
    throw Error("CorLoc: cannot merge accumulators of different protocols");
  }
  for (size_t i = 0; i < correct_.size(); ++i) correct_[i] += other.correct_[i];
  total_ += other.total_;
}

std::vector<std::int64_t> CorLocAccumulator::counts() const {
  std::vector<std::int64_t> out(correct_);
  out.push_back(total_);
  return out;
}

CorLocAccumulator CorLocAccumulator::from_counts(const std::vector<std::int64_t>& counts,
                                                 const CorLocProtocol& protocol) {
  if (counts.size() != static_cast<size_t>(kCorLocThresholds) + 1) {
    throw Error(fmt::format("CorLoc: {} counts given, {} expected", counts.size(), kCorLocThresholds + 1));
  }
  CorLocAccumulator acc(protocol);
  for (int i = 0; i < kCorLocThresholds; ++i) acc.correct_[i] = counts[i];
  acc.total_ = counts.back();
  for (std::int64_t c : acc.correct_) {
    if (c < 0 || c > acc.total_) {
      throw Error(fmt::format("CorLoc: count {} is outside [0, total={}]", c, acc.total_));
    }
  }
  return acc;
}

CorLocResult CorLocAccumulator::result() const {
  CorLocResult r;
  r.thresholds = thresholds();
  r.total = total_;
  r.accuracy.assign(correct_.size(), 0.0);
  for (size_t i = 0; i < correct_.size(); ++i) {
    if (total_ > 0) r.accuracy[i] = static_cast<double>(correct_[i]) / static_cast<double>(total_) * 100.0;
  }
  // The first tau of highest accuracy (the reference's strict '>' scan); with
  // no correct image at all this is tau_0 at 0 %, where the reference says 0.
  size_t best = 0;
  for (size_t i = 1; i < r.accuracy.size(); ++i) {
    if (r.accuracy[i] > r.accuracy[best]) best = i;
  }
  r.best_threshold = r.thresholds[best];
  r.best_accuracy = r.accuracy[best];
  return r;
}

}  // namespace c2am::eval
