// Implements: the segmentation scores of the WSSS stage (method doc §8.6, as
// the reference's evaluate script computes them): per-class pixel counts over
// the pixels whose ground truth is not 255 (void), IoU_c = TP / (T + P - TP),
// mIoU = the mean IoU, FP rate = mean over foreground classes of
// (P - TP) / (T + P - TP), FN rate = mean of (T - TP) / (T + P - TP).
// A class that appears neither in the ground truth nor in the predictions has
// no IoU and is left out of every mean (the reference scores it 0; on real VOC
// every class appears, so the figures agree). Torch-free.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace c2am::wsss {

inline constexpr std::uint8_t kVoidLabel = 255;

// The 21 VOC names, index = label (0 = background).
const std::vector<std::string>& voc_class_names();

// Pixel counts per class, summed over images; merge() adds another's (ranks, threads).
struct SegCounts {
  explicit SegCounts(int num_classes = 21);
  int num_classes;
  std::vector<std::int64_t> tp;    // predicted c where the ground truth is c
  std::vector<std::int64_t> pred;  // predicted c (ground truth not void)
  std::vector<std::int64_t> gt;    // ground truth c
  std::int64_t pixels = 0;         // non-void pixels
  std::int64_t images = 0;

  // One image: `n` labels each. Ground truth 255 is skipped; any other
  // ground-truth value must be < num_classes, a prediction must be < num_classes
  // (c2am::Error naming `what` otherwise).
  void add(const std::uint8_t* predicted, const std::uint8_t* truth, std::size_t n, const std::string& what);
  void merge(const SegCounts& other);
};

struct SegScores {
  std::vector<double> iou;  // per class; NaN where the class appears nowhere
  double miou = 0.0;        // mean over classes with an IoU
  double miou_foreground = 0.0;
  double fp = 0.0;  // mean over foreground classes with an IoU
  double fn = 0.0;
  double pixel_accuracy = 0.0;
  int classes_scored = 0;
};

SegScores score(const SegCounts& counts);

// {"miou":…, "fp":…, "fn":…, "iou":{"background":…, …}, "pixels":…, "images":…} (NaN IoUs as null).
std::string scores_json(const SegScores& s, const SegCounts& counts, const std::vector<std::string>& names);

}  // namespace c2am::wsss
