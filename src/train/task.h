// Implements: what a training run trains (model.kind): the network
// (model/network.h), the loss of one batch on this rank, what the loader must
// provide, how the ranks' gradients combine, and the hooks through which the
// task-neutral loop of trainer.cpp lets a task act at step and epoch ends and
// keep its own keys in checkpoints. Tasks: the C²AM maps (task_c2am.cpp), the
// multi-label classifier whose CAMs the WSSS stage refines
// (task_classifier.cpp), the saliency network trained on background cues
// (task_saliency.cpp), PSOL's box regressor trained on pseudo boxes
// (task_regressor.cpp).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "comm/communicator.h"
#include "config/config.h"
#include "data/loader.h"
#include "model/network.h"
#include "util/log.h"

namespace c2am::train {

struct StepLoss {
  torch::Tensor total;               // back-propagated: this rank's share of the loss
  std::vector<torch::Tensor> terms;  // logged scalars, in term_names() order (the first is total)
  torch::Tensor map;                 // C²AM only: the batch's maps, for the polarity rule
};

// Where an epoch ended, as the loop tells a task.
struct EpochEnd {
  int64_t epoch = 0;      // the epoch that ended, counted from 0
  bool complete = false;  // its last batch was trained (false: stopped inside it)
  bool last = false;      // training stops after this (the schedule or train.max_steps is done)
};

class Task {
 public:
  explicit Task(std::unique_ptr<model::Network> network) : network_(std::move(network)) {}
  virtual ~Task() = default;
  model::Network& network() { return *network_; }
  torch::nn::Module& net() { return network_->module(); }

  // Names of the logged terms ("loss" first), the keys of metrics.jsonl.
  virtual std::vector<std::string> term_names() const = 0;
  // What each batch must carry besides the images (configured on the loader).
  virtual void configure_loader(data::LoaderOptions& options) const { (void)options; }
  // The factor on each rank's gradient in the all-reduce: 1 when the ranks'
  // losses add up to the global batch's loss, 1/world when each rank's loss
  // is the mean over its own images (gradients averaged, as DDP does).
  virtual double rank_share(int world) const = 0;
  // Forward and loss of this rank's batch (images already on the net's device).
  virtual StepLoss loss(const data::Batch& batch, comm::Communicator& comm) = 0;

  // Hooks of the training loop; every rank calls each at the same point.
  virtual void after_step(const StepLoss& loss) { (void)loss; }
  virtual void end_epoch(const EpochEnd& end, comm::Communicator& comm, const util::Logger& log) {
    (void)end, (void)comm, (void)log;
  }
  // The shared checkpoint keys this task decides (C²AM: the polarity).
  virtual checkpoint::EvalKeys eval_keys() const { return {}; }
  // On resume: rank 0 restores from the checkpoint, then every rank takes rank 0's keys.
  virtual void restore(const checkpoint::Checkpoint& ckpt) { (void)ckpt; }
  virtual void broadcast_state(comm::Communicator& comm) { (void)comm; }
  // Whether eval.every_epochs can evaluate this task's network during training.
  virtual bool periodic_eval() const { return false; }

 private:
  std::unique_ptr<model::Network> network_;
};

// The task of cfg.model.kind with a freshly initialised network.
std::unique_ptr<Task> make_task(const config::Config& cfg);

}  // namespace c2am::train
