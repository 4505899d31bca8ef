// Implements: WSOL evaluation of a trained C²AM on a test split: maps at the
// test transform (resize, centre crop), polarity from the checkpoint, CorLoc
// (GT-known Loc, 19 thresholds) and MaxBoxAccV2, a centred-box baseline of the
// mean ground-truth size, and heatmap overlays with predicted (red) and
// ground-truth (green) boxes.
#pragma once
#include <string>
#include <vector>

#include "config/config.h"
#include "eval/corloc.h"
#include "eval/maxboxacc.h"
#include "util/log.h"

namespace c2am::eval {

struct WsolEvalOptions {
  std::string checkpoint;   // file or run folder (newest valid checkpoint)
  std::string out_dir;      // metrics.json, heatmaps/
  int heatmaps = 16;        // overlays written (and a contact sheet); 0 = none
  bool store_threshold = true;  // write best tau back into the checkpoint
};

struct WsolEvalResult {
  CorLocResult corloc;
  MaxBoxAccResult maxboxacc;
  double centre_baseline = 0.0;  // CorLoc (%) of a centred box of the mean ground-truth size
  int polarity = 0;
  std::string checkpoint;
  std::vector<std::string> heatmap_files;
};

WsolEvalResult evaluate_wsol(const config::Config& cfg, const WsolEvalOptions& options, const util::Logger& log);

}  // namespace c2am::eval
