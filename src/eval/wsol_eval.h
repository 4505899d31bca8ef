// Implements: WSOL evaluation of a trained C²AM on a test split: maps at the
// test transform (resize, centre crop), polarity from the checkpoint, CorLoc
// (GT-known Loc, 19 thresholds) and MaxBoxAccV2, a centred-box baseline of the
// mean ground-truth size, and heatmap overlays with predicted (red) and
// ground-truth (green) boxes.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "eval/corloc.h"
#include "eval/maxboxacc.h"
#include "util/log.h"

namespace c2am::comm {
class Communicator;
}

namespace c2am::eval {

struct WsolEvalOptions {
  std::string checkpoint;   // file or run folder (newest valid checkpoint)
  std::string out_dir;      // metrics.json, heatmaps/
  int heatmaps = 16;        // overlays written (and a contact sheet); 0 = none
  bool store_threshold = true;  // write best tau back into the checkpoint
  // "" = none; else a folder: maps/<index>.png (each image's oriented score map,
  // 16-bit grey at map resolution, value = round(P * 65535)) and boxes.jsonl
  // (each image's CorLoc box at the best tau, crop and original pixels).
  std::string save_maps;
  // "" = none; else a text file, one line per image: "name,c1,c2,..." (or
  // whitespace-separated), the predicted class ids best first; adds
  // Top-1 / Top-5 Loc (docs/wsol.md).
  std::string class_predictions;
};

// Top-1 / Top-5 localization: an image counts when its ground-truth class is
// the first (any of the first five) predicted classes and its CorLoc box has
// IoU > 0.5 at that tau.
struct TopKLoc {
  bool present = false;
  std::vector<double> top1;  // percent, per CorLoc tau
  std::vector<double> top5;
  double top1_at_best = 0;   // at CorLoc's best tau
  double top5_at_best = 0;
  double top1_cls = 0;       // classification alone, percent
  double top5_cls = 0;
};

struct WsolEvalResult {
  std::string protocol;  // eval.protocol: the one `corloc` follows (and the heatmaps, boxes, Top-k, tau)
  CorLocResult corloc;
  // CorLoc of the same maps under every protocol (paper, reference, aligned), for comparison.
  std::vector<std::pair<std::string, CorLocResult>> corloc_by_protocol;
  MaxBoxAccResult maxboxacc;
  double centre_baseline = 0.0;  // CorLoc (%) of a centred box of the mean ground-truth size
  TopKLoc topk;
  int polarity = 0;
  int world = 1;            // ranks that shared the images
  std::string checkpoint;
  std::vector<std::string> heatmap_files;
};

// Loads the checkpoint and evaluates. Under an MPI launcher every rank calls
// it and takes its share of the images; the counts are summed exactly, so the
// figures equal a single process's. Rank 0 writes the files.
WsolEvalResult evaluate_wsol(const config::Config& cfg, const WsolEvalOptions& options, comm::Communicator& comm,
                             const util::Logger& log);

}  // namespace c2am::eval
