// Implements: WSOL evaluation of a network in memory (periodic evaluation
// during training), with the job's communicator: each rank evaluates its share
// of the split and the metric counts are all-reduced. Every rank calls it.
#pragma once
#include "dist/communicator.h"
#include "eval/wsol_eval.h"
#include "model/c2am_net.h"

namespace c2am::eval {

// A trained network as the evaluation stages use it.
struct LoadedNet {
  std::string path;               // the checkpoint file read
  model::C2amNet net{nullptr};
  int polarity = 0;               // 1: 1 - P is the foreground (unknown -> 0, with a warning)
  double best_threshold = 0.0;    // CorLoc's best tau stored by eval-wsol; NaN = none yet
};

// Reads a checkpoint file, or a run folder's newest valid checkpoint, and
// builds its network (architecture from the saved config). Errors name the path.
LoadedNet load_checkpoint_net(const std::string& checkpoint_or_run, const util::Logger& log);

// `polarity`: 1 = 1 - P is the foreground. `options.checkpoint` is only
// reported (and, with store_threshold, updated by rank 0).
WsolEvalResult evaluate_wsol_net(model::C2amNetImpl& net, int polarity, const config::Config& cfg,
                                 const WsolEvalOptions& options, dist::Communicator& comm, const util::Logger& log);

}  // namespace c2am::eval
