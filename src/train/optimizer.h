// Implements: the reference optimiser (method doc §6): SGD over two parameter
// groups, the backbone's conv weights (lr x 1) and the head's conv weights
// (lr x head_lr_mult; the head is C²AM's ac_head, or the task's own head),
// weight decay on both; BatchNorm affine parameters are in
// no group (frozen) while their running statistics still update. Momentum is
// 1e-4 in "reference" mode (the reference passes its weight decay as SGD's
// momentum) or the configured value in "sgd" mode. Learning rate follows the
// poly rule lr * (1 - step/max_step)^power, set before every step.
// The update is torch.optim.SGD's (dampening 0, no Nesterov), written out so
// its state is plain tensors that checkpoints and ranks can share.
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

// The reference freezes BatchNorm's affine parameters (they are in no
// optimiser group); not computing their gradients changes no other value.
void freeze_batchnorm_affine(torch::nn::Module& net);

class Sgd {
 public:
  // Builds the groups from a network's named parameters: names starting with
  // `head_prefix` form the head group.
  Sgd(const torch::nn::Module& net, const config::TrainConfig& cfg,
      const std::string& head_prefix = "ac_head.");

  // Poly learning rate for `step` of `max_steps` (the base lr times the group's multiplier).
  double lr_at(int64_t step, int64_t max_steps) const;
  // One update of every group's parameters with the learning rate of `step`.
  void step(int64_t step, int64_t max_steps);
  void zero_grad();

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  double momentum() const { return momentum_; }

 private:
  std::vector<ParamGroup> groups_;
  double base_lr_;
  double weight_decay_;
  double momentum_;
  double power_;
};

}  // namespace c2am::train
