// Implements: the training runs' SGD. train.parameters = "conv" is the
// reference optimiser (method doc §6): two parameter groups, the backbone's
// conv weights (lr x 1) and the head's conv weights (lr x head_lr_mult; the
// head is C²AM's ac_head, or the task's own head), weight decay on both;
// BatchNorm affine parameters are in no group (frozen) while their running
// statistics still update. train.parameters = "all" trains every parameter
// (torch.optim.SGD over model.parameters(), as PSOL's regressor): the head's
// at lr x head_lr_mult, weight decay on all. Momentum is 1e-4 in "reference"
// mode (the reference passes its weight decay as SGD's momentum) or the
// configured value in "sgd" mode. The learning rate follows train.lr_schedule,
// set before every step: poly, lr * (1 - step/max_step)^power, or cosine,
// lr * (1 + cos(pi * step/max_step)) / 2 (torch's CosineAnnealingLR stepped
// per iteration with T_max = max_step, eta_min = 0).
// The update is torch.optim.SGD's (dampening 0, no Nesterov), written out so
// its state is plain tensors that checkpoints and ranks can share. With
// train.fused_optimizer (default) each group is updated by a few multi-tensor
// `_foreach_` ops over its lists (torch.optim.SGD's foreach=True) instead of
// a few ops per parameter: the same arithmetic, the same bits on the CPU,
// fewer kernel launches on CUDA. For CUDA graphs the learning rate can also
// come from device tensors (set_lr_tensors / step_with_lr_tensors).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace c2am::train {

inline constexpr double kReferenceMomentum = 1e-4;

struct ParamGroup {
  std::string name;
  double lr_mult = 1.0;
  std::vector<std::string> names;  // parameter names, for checkpoints
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> momentum;  // undefined until the first step
};

// Turns off the gradients of the parameters no optimiser group holds
// (train.parameters = "conv": all but the conv weights, i.e. BatchNorm's
// affine parameters, as the reference; "all": none); not computing their
// gradients changes no other value.
void freeze_untrained(torch::nn::Module& net, const config::TrainConfig& cfg);

class Sgd {
 public:
  // Builds the groups from a network's named parameters (train.parameters):
  // names starting with `head_prefix` form the head group.
  Sgd(const torch::nn::Module& net, const config::TrainConfig& cfg,
      const std::string& head_prefix = "ac_head.");

  // The learning rate of `step` of `max_steps` (train.lr_schedule; the groups multiply it).
  double lr_at(int64_t step, int64_t max_steps) const;
  // One update of every group's parameters with the learning rate of `step`.
  // Parameters without a gradient are left as they are (momentum included).
  void step(int64_t step, int64_t max_steps);
  void zero_grad();

  // CUDA graphs (train/graph_step.h): a captured update cannot take a new
  // host scalar per replay, so each group's learning rate lives in a 0-d
  // tensor on the parameters' device. set_lr_tensors() writes the rates of
  // `step` into them (a kernel on the current stream, outside the graph);
  // step_with_lr_tensors() is step() reading them (what the graph captures).
  void set_lr_tensors(int64_t step, int64_t max_steps);
  void step_with_lr_tensors();
  // Zero momentum buffers for the parameters that have none yet, so that no
  // later step creates one (a captured step would create it at every
  // replay). Zero then m * 0 + d gives the first step's buffer, d.
  void ensure_momentum_buffers();

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  double momentum() const { return momentum_; }
  bool fused() const { return fused_; }

 private:
  // The group's parameters that have a gradient and their update directions
  // (gradient + weight decay, then through the momentum buffer), computed
  // with _foreach_ ops; momentum buffers are created or updated.
  struct Directions {
    std::vector<torch::Tensor> params;
    std::vector<torch::Tensor> d;
  };
  Directions directions(ParamGroup& g);
  void step_per_parameter(ParamGroup& g, double group_lr);

  std::vector<ParamGroup> groups_;
  std::vector<torch::Tensor> lr_tensors_;  // -lr x lr_mult per group, for set_lr_tensors()
  double base_lr_;
  double weight_decay_;
  double momentum_;
  double power_;
  bool cosine_;
  bool fused_;
};

}  // namespace c2am::train
