// Implements: CAM refinement (method doc §8.5): a background score per pixel,
// 1 - cue/255 with background cues or a constant threshold without, stacked
// in front of the image's class CAMs; the argmax is the pseudo mask
// (0 = background, keys[k] = that class). Ties go to the background, then to
// the earlier map, as numpy's argmax in the reference. Also the constant-
// threshold sweep that eval-seg runs for CAMs without cues. Torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "wsss/seg_metrics.h"

namespace c2am::wsss {

// One image's class CAMs: `keys[k]` (a class label 1..255) owns map k of
// `values` (keys.size() x height x width, row-major, in [0, 1]).
struct CamView {
  const std::vector<int>& keys;
  int width;
  int height;
  const std::vector<float>& values;
};

// The pseudo mask, width x height labels. `cue`: width x height (255 =
// foreground), or nullptr for the constant background score `bg_threshold`.
// Errors (c2am::Error naming `what`) for inconsistent sizes or keys.
std::vector<std::uint8_t> pseudo_mask(const CamView& cams, const std::uint8_t* cue, double bg_threshold,
                                      const std::string& what);

// For every threshold t: the counts of the pseudo mask with background score
// t against `truth` (width x height), added to counts[i] (one per threshold).
void add_threshold_sweep(const CamView& cams, const std::uint8_t* truth,
                         const std::vector<double>& thresholds, std::vector<SegCounts>& counts,
                         const std::string& what);

// The reference's sweep of background thresholds: 0.05, 0.10, ..., 0.75.
std::vector<double> default_bg_thresholds();

}  // namespace c2am::wsss
