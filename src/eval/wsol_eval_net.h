// Implements: WSOL evaluation of a network in memory (periodic evaluation
// during training), with the job's communicator: each rank evaluates its share
// of the split and the metric counts are all-reduced. Every rank calls it.
#pragma once
#include "dist/communicator.h"
#include "eval/wsol_eval.h"
#include "model/c2am_net.h"

namespace c2am::eval {

// `polarity`: 1 = 1 - P is the foreground. `options.checkpoint` is only
// reported (and, with store_threshold, updated by rank 0).
WsolEvalResult evaluate_wsol_net(model::C2amNetImpl& net, int polarity, const config::Config& cfg,
                                 const WsolEvalOptions& options, dist::Communicator& comm, const util::Logger& log);

}  // namespace c2am::eval
