#include "wsss/seg_metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "util/error.h"

namespace c2am::wsss {

const std::vector<std::string>& voc_class_names() {
  static const std::vector<std::string> kNames = {
      "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
      "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
      "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};
  return kNames;
}

SegCounts::SegCounts(int classes)
    : num_classes(classes),
      tp(static_cast<size_t>(classes), 0),
      pred(static_cast<size_t>(classes), 0),
      gt(static_cast<size_t>(classes), 0) {
  if (classes <= 0 || classes > 255) throw Error(fmt::format("segmentation scores: {} classes", classes));
}

void SegCounts::add(const std::uint8_t* predicted, const std::uint8_t* truth, std::size_t n,
                    const std::string& what) {
  const auto limit = static_cast<std::uint8_t>(num_classes);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t t = truth[i];
    if (t == kVoidLabel) continue;
    const std::uint8_t p = predicted[i];
    if (t >= limit || p >= limit) {
      throw Error(fmt::format("{}: pixel {} has {} label {} (expected 0..{} or 255 for void)", what, i,
                              t >= limit ? "ground-truth" : "predicted", t >= limit ? t : p,
                              num_classes - 1));
    }
    ++gt[t];
    ++pred[p];
    if (p == t) ++tp[t];
    ++pixels;
  }
  ++images;
}

void SegCounts::merge(const SegCounts& other) {
  if (other.num_classes != num_classes)
    throw Error("segmentation scores: merging counts of different class sets");
  for (int c = 0; c < num_classes; ++c) {
    const auto k = static_cast<size_t>(c);
    tp[k] += other.tp[k];
    pred[k] += other.pred[k];
    gt[k] += other.gt[k];
  }
  pixels += other.pixels;
  images += other.images;
}

SegScores score(const SegCounts& c) {
  SegScores s;
  s.iou.assign(static_cast<size_t>(c.num_classes), std::numeric_limits<double>::quiet_NaN());
  double sum_iou = 0, sum_fg_iou = 0, sum_fp = 0, sum_fn = 0;
  int fg_scored = 0;
  std::int64_t correct = 0;
  for (int k = 0; k < c.num_classes; ++k) {
    const auto i = static_cast<size_t>(k);
    correct += c.tp[i];
    const auto uni = static_cast<double>(c.gt[i] + c.pred[i] - c.tp[i]);
    if (uni <= 0) continue;
    const double iou = static_cast<double>(c.tp[i]) / uni;
    s.iou[i] = iou;
    sum_iou += iou;
    ++s.classes_scored;
    if (k == 0) continue;
    sum_fg_iou += iou;
    sum_fp += static_cast<double>(c.pred[i] - c.tp[i]) / uni;
    sum_fn += static_cast<double>(c.gt[i] - c.tp[i]) / uni;
    ++fg_scored;
  }
  if (s.classes_scored > 0) s.miou = sum_iou / s.classes_scored;
  if (fg_scored > 0) {
    s.miou_foreground = sum_fg_iou / fg_scored;
    s.fp = sum_fp / fg_scored;
    s.fn = sum_fn / fg_scored;
  }
  if (c.pixels > 0) s.pixel_accuracy = static_cast<double>(correct) / static_cast<double>(c.pixels);
  return s;
}

std::string scores_json(const SegScores& s, const SegCounts& counts, const std::vector<std::string>& names) {
  auto num = [](double v) { return std::isnan(v) ? std::string("null") : fmt::format("{}", v); };
  std::string iou;
  for (size_t k = 0; k < s.iou.size(); ++k) {
    const std::string name = k < names.size() ? names[k] : fmt::format("class_{}", k);
    iou += fmt::format("{}\"{}\":{}", k ? "," : "", name, num(s.iou[k]));
  }
  return fmt::format(
      R"({{"miou":{},"miou_foreground":{},"fp":{},"fn":{},"pixel_accuracy":{},"classes_scored":{},"images":{},"pixels":{},"iou":{{{}}}}})",
      num(s.miou), num(s.miou_foreground), num(s.fp), num(s.fn), num(s.pixel_accuracy), s.classes_scored,
      counts.images, counts.pixels, iou);
}

}  // namespace c2am::wsss
