// Implements: `c2am refine-cams` and `c2am eval-seg` (method doc §8 steps 5
// and 6). refine-cams turns each image's class CAMs (cam_store.h) and, when
// given, its background cue into a pseudo mask (refine.h), written as a VOC
// palette PNG. eval-seg scores label maps against the ground truth (mIoU, FP,
// FN, per-class IoU; seg_metrics.h): either pseudo-mask PNGs, or CAMs
// directly, refined with cues and/or with every constant background threshold
// of a sweep. Ground truth comes from a folder of PNGs (<stem>.png, palette
// indices or grey labels, 255 = void) or from a packed VOC split's masks.
// Images run on threads; counts are exact integers, so the figures do not
// depend on the thread count. Torch-free.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/log.h"
#include "wsss/seg_metrics.h"

namespace c2am::wsss {

struct RefineCamsOptions {
  std::string cams_dir;   // <stem>.h5 per image
  std::string cues_dir;   // <stem>.png (255 = foreground); "" = constant background score
  std::string out_dir;    // <stem>.png palette masks
  std::string list_file;  // image ids, one per line ("" = every CAM file)
  double bg_threshold = 0.25;
  int threads = 1;
};

struct RefineCamsResult {
  std::int64_t images = 0;
  double seconds = 0.0;
};

RefineCamsResult refine_cams(const RefineCamsOptions& options, const util::Logger& log);

struct EvalSegOptions {
  // What is scored: pred_dir, or cams_dir (with cues_dir and/or sweep).
  std::string pred_dir;
  std::string cams_dir;
  std::string cues_dir;
  bool sweep = false;
  std::vector<double> thresholds;  // sweep thresholds (empty: 0.05, 0.10, ..., 0.75)
  double bg_threshold = 0.25;      // cams without cues and without sweep
  // Ground truth: gt_dir, or the packed split `split` of `data`.
  std::string gt_dir;
  std::optional<config::DataConfig> data;
  std::string split = "val";
  std::string list_file;  // image ids ("" = every prediction / CAM file)
  std::string out_dir;    // metrics.json ("" = none)
  int num_classes = 21;
  int threads = 1;
};

struct SweepPoint {
  double threshold = 0.0;
  SegScores scores;
};

struct EvalSegResult {
  std::int64_t images = 0;
  std::string gt_source;
  std::optional<SegScores> pred;      // pred_dir scored
  std::optional<SegScores> cues;      // cams + cues
  std::optional<SegScores> constant;  // cams + bg_threshold (no sweep, no cues)
  std::vector<SweepPoint> sweep;      // cams + each threshold
  std::optional<SweepPoint> best;     // the sweep's best mIoU
  std::string metrics_file;
};

EvalSegResult eval_seg(const EvalSegOptions& options, const util::Logger& log);

// Image ids of a list file (ImageSets style: the first token of each non-empty
// line, its stem), or the stems of every `<dir>/*.<ext>` sorted when list_file is "".
std::vector<std::string> image_ids(const std::string& list_file, const std::string& dir,
                                   const std::string& ext);

}  // namespace c2am::wsss
