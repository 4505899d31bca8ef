// Implements: one training step, shared by the trainer and `c2am bench
// train`: forward and losses of this rank's batch (the task's), the gradients
// zeroed, backward with the bucketed gradient all-reduce launched from
// autograd hooks as gradients become ready, then the optimiser step. With
// run.cuda_graphs the same step is captured once and replayed
// (train/graph_step.h).
#pragma once
#include <cstdint>
#include <memory>

#include "config/config.h"
#include "data/loader.h"
#include "comm/communicator.h"
#include "comm/grad_sync.h"
#include "train/graph_step.h"
#include "train/optimizer.h"
#include "train/task.h"
#include "util/log.h"

namespace c2am::train {

class TrainStep {
 public:
  // `sync`: null with one rank.
  TrainStep(Task& task, Sgd& sgd, comm::Communicator& comm, comm::GradSync* sync)
      : task_(task), sgd_(sgd), comm_(comm), sync_(sync) {}
  TrainStep(const TrainStep&) = delete;  // the graphed step calls back into this object
  TrainStep& operator=(const TrainStep&) = delete;
  // With cfg.run.cuda_graphs: later steps are captured into a CUDA graph
  // after warm-up and replayed; where that is impossible, logs why and the
  // step stays eager. Nothing without the key.
  void use_cuda_graphs(const config::Config& cfg, const torch::Device& device, const util::Logger& log);
  // The step of `step` out of `max_steps` (the poly learning rate); the batch
  // is already on the network's device.
  StepLoss run(const data::Batch& batch, std::int64_t step, std::int64_t max_steps);

 private:
  StepLoss forward_backward(const data::Batch& batch);

  Task& task_;
  Sgd& sgd_;
  comm::Communicator& comm_;
  comm::GradSync* sync_;
  std::unique_ptr<GraphStep> graph_;
};

}  // namespace c2am::train
