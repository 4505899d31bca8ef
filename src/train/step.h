// Implements: one training step, shared by the trainer and `c2am bench
// train`: forward and losses of this rank's batch (the task's), the gradients
// zeroed, backward with the bucketed gradient all-reduce launched from
// autograd hooks as gradients become ready, then the optimiser step.
#pragma once
#include <cstdint>

#include "data/loader.h"
#include "comm/communicator.h"
#include "comm/grad_sync.h"
#include "train/optimizer.h"
#include "train/task.h"

namespace c2am::train {

class TrainStep {
 public:
  // `sync`: null with one rank.
  TrainStep(Task& task, Sgd& sgd, comm::Communicator& comm, comm::GradSync* sync)
      : task_(task), sgd_(sgd), comm_(comm), sync_(sync) {}
  // The step of `step` out of `max_steps` (the poly learning rate); the batch
  // is already on the network's device.
  StepLoss run(const data::Batch& batch, std::int64_t step, std::int64_t max_steps);

 private:
  Task& task_;
  Sgd& sgd_;
  comm::Communicator& comm_;
  comm::GradSync* sync_;
};

}  // namespace c2am::train
