// Implements: `c2am eval-wsol --regressor CKPT`: GT-known Loc of the boxes a
// trained box regressor (model.kind = "regressor", PSOL) predicts on the
// test split, as the authors' WSOL/PSOL/inference_CUB.py measures it: each
// image at the test transform (resize, centre crop), the predicted
// (x, y, w, h) / crop as a box in crop pixels (x1 = x0 + w * crop), the
// ground truth clipped to the crop, a hit when the IoU with a ground-truth
// box is > 0.5. Also the hits at IoU 0.3 / 0.5 / 0.7 and their mean (PSOL's
// "Max Box acc": one box per image, no threshold to sweep), the mean IoU, the
// centred-box baseline, Top-1/Top-5 Loc with --class-predictions, pictures
// (red: predicted, green: ground truth), every image's box in OUT/boxes.jsonl
// and metrics.json. Under an MPI launcher the ranks share the images and the
// counts are summed exactly.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/config.h"
#include "util/log.h"

namespace c2am::eval {

struct RegressorEvalOptions {
  std::string checkpoint;         // the regressor: a file or a run folder (its newest valid checkpoint)
  std::string out_dir;            // metrics.json, boxes.jsonl, heatmaps/
  int heatmaps = 16;              // pictures written (and a contact sheet); 0 = none
  std::string class_predictions;  // "" = none; else Top-1 / Top-5 Loc (as eval-wsol)
};

struct RegressorEvalResult {
  std::string checkpoint;
  std::int64_t images = 0;
  int world = 1;
  double gt_known_loc = 0;          // % of images with IoU > 0.5
  std::array<double, 3> box_acc{};  // % with IoU > 0.3, 0.5, 0.7
  double box_acc_mean = 0;          // their mean (PSOL's "Max Box acc")
  double mean_iou = 0;
  double centre_baseline = 0;  // CorLoc (%) of a centred box of the mean ground-truth size
  bool with_classes = false;
  double top1_loc = 0, top5_loc = 0;  // % (class right and IoU > 0.5)
  double top1_cls = 0, top5_cls = 0;
  std::vector<std::string> heatmap_files;
};

// Every rank calls it; rank 0 writes the files.
RegressorEvalResult evaluate_regressor(const config::Config& cfg, const RegressorEvalOptions& options,
                                       comm::Communicator& comm, const util::Logger& log);

}  // namespace c2am::eval
