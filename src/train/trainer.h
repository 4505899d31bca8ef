// Implements: the training loop, the same for every model.kind (train/task.h),
// top to bottom: next batch -> forward and losses -> backward with the
// gradient all-reduce -> optimiser step -> diagnostics; checkpoints at
// intervals and at epoch ends; the task's hooks at step and epoch ends;
// periodic evaluation; exact resume; preemption.
#pragma once
#include <functional>
#include <string>

#include "checkpoint/checkpoint.h"
#include "comm/context.h"
#include "config/config.h"
#include "util/log.h"

namespace c2am::model {
class Network;
}
namespace c2am::comm {
class Communicator;
}

namespace c2am::train {

// Called on every rank at the end of epochs N, 2N, ... (eval.every_epochs = N)
// and of the last epoch, after the epoch's checkpoint is written, for tasks
// that support it (periodic WSOL evaluation: the cli passes
// eval::evaluate_wsol_net). `epoch` counts from 1.
using EpochEvalHook = std::function<void(model::Network& net, const checkpoint::EvalKeys& keys, int64_t epoch,
                                         const std::string& checkpoint, comm::Communicator& comm)>;

struct TrainResult {
  std::string checkpoint;  // the last checkpoint written
  int polarity = -1;
  int64_t steps = 0;
  double images_per_second = 0;           // all ranks together
  double images_per_second_per_rank = 0;
  int world = 1;
  bool preempted = false;  // stopped by SIGUSR1/SIGTERM after a checkpoint: exit kExitPreempted
};

// Trains as `cfg` says, writing into cfg.run.out (config.toml, metrics.jsonl,
// checkpoints/). `resume` is "", "auto" (newest valid checkpoint of the run
// folder, or a fresh start when there is none) or a checkpoint path / folder.
// Under an MPI launcher every rank calls it: rank 0 reads the checkpoint and
// writes everything, each rank trains its slice of every global batch
// (docs/distributed.md). `ctx`: this process's place in the job (comm::init()
// in main; a default Context is one process). `log` gets the run's metrics file.
TrainResult train(const config::Config& cfg, const comm::Context& ctx, const std::string& resume,
                  util::Logger& log, const EpochEvalHook& eval_hook = {});

}  // namespace c2am::train
