// Implements: WSOL evaluation of a network in memory (periodic evaluation
// during training), with the job's communicator: each rank evaluates its share
// of the split and the metric counts are all-reduced. Every rank calls it.
#pragma once
#include "checkpoint/trained.h"
#include "comm/communicator.h"
#include "eval/wsol_eval.h"
#include "model/c2am_net.h"

namespace c2am::eval {

// A trained C²AM network as the evaluation stages use it.
struct LoadedNet {
  checkpoint::Trained trained;    // path, saved config, the network (owned)
  model::C2amNetImpl* net = nullptr;
  int polarity = 0;               // 1: 1 - P is the foreground (unknown -> 0, with a warning)
  double best_threshold = 0.0;    // CorLoc's best tau stored by eval-wsol; NaN = none yet
  const std::string& path() const { return trained.path; }
};

// A C²AM checkpoint file, or a run folder's newest valid one, through the one
// strict loader (checkpoint::load_trained). Errors name the path.
LoadedNet load_checkpoint_net(const std::string& checkpoint_or_run, const util::Logger& log);

// `polarity`: 1 = 1 - P is the foreground. `options.checkpoint` is only
// reported (and, with store_threshold, updated by rank 0).
WsolEvalResult evaluate_wsol_net(model::C2amNetImpl& net, int polarity, const config::Config& cfg,
                                 const WsolEvalOptions& options, comm::Communicator& comm, const util::Logger& log);

}  // namespace c2am::eval
