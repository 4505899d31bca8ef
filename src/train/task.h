// Implements: what a training run trains (model.kind): the network, the loss
// of one batch on this rank, which parameters learn at the head's rate, what
// the loader must provide, and how the ranks' gradients combine. The loop of
// trainer.cpp is the same for every kind: the C²AM maps (task_c2am.cpp), the
// multi-label classifier whose CAMs the WSSS stage refines
// (task_classifier.cpp), and the saliency network trained on background cues
// (task_saliency.cpp).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/loader.h"
#include "dist/communicator.h"
#include "model/precision.h"

namespace c2am::train {

struct StepLoss {
  torch::Tensor total;               // back-propagated: this rank's share of the loss
  std::vector<torch::Tensor> terms;  // logged scalars, in term_names() order (the first is total)
  torch::Tensor map;                 // C²AM only: the batch's maps, for the polarity rule
};

class Task {
 public:
  virtual ~Task() = default;
  virtual torch::nn::Module& net() = 0;
  // bf16 autocast and channels_last for the backbone (run.precision, run.channels_last).
  virtual void set_precision(const model::Precision& p) = 0;
  // Names of the logged terms ("loss" first), the keys of metrics.jsonl.
  virtual std::vector<std::string> term_names() const = 0;
  // Parameters whose names start with this learn at train.head_lr_mult.
  virtual std::string head_prefix() const = 0;
  // The module whose BatchNorms dist.sync_batchnorm = "head" synchronises; nullptr: none.
  virtual torch::nn::Module* head() = 0;
  // What each batch must carry besides the images (configured on the loader).
  virtual void configure_loader(data::LoaderOptions& options) const { (void)options; }
  // The factor on each rank's gradient in the all-reduce: 1 when the ranks'
  // losses add up to the global batch's loss, 1/world when each rank's loss
  // is the mean over its own images (gradients averaged, as DDP does).
  virtual double rank_share(int world) const = 0;
  // Forward and loss of this rank's batch (images already on the net's device).
  virtual StepLoss loss(const data::Batch& batch, dist::Communicator& comm) = 0;
  // The raw maps that inference aggregates over scales (wsss/multiscale.h),
  // N x C x h x w: C²AM's head output before the sigmoid (C = 1), the
  // classifier's CAMs before ReLU (C = classes), saliency logits (C = 1).
  virtual torch::Tensor maps(const torch::Tensor& images) = 0;
};

// The task of cfg.model.kind with a freshly initialised network.
std::unique_ptr<Task> make_task(const config::Config& cfg);

// A trained network read back from its checkpoint, ready for inference.
struct TrainedTask {
  std::string path;             // the checkpoint file read
  config::Config cfg;           // the configuration it was trained with
  std::unique_ptr<Task> task;   // weights loaded, eval mode
  int polarity = -1;            // C²AM: 1 = 1 - P is the foreground; -1 unknown
  double best_threshold = 0.0;  // CorLoc's best tau (NaN = none)
};

// Reads a checkpoint file, or a run folder's newest valid checkpoint, builds
// the network of its saved configuration and loads its weights. `kind`: the
// model.kind the caller needs ("" = any); another kind is a UsageError naming
// the file and both kinds. Errors name the path.
TrainedTask load_trained(const std::string& checkpoint_or_run, const std::string& kind);

}  // namespace c2am::train
