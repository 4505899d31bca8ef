#include "train/optimizer.h"

#include <cmath>

#include "util/strings.h"

namespace c2am::train {

namespace {
bool is_conv_weight(const std::string& name, const torch::Tensor& t) {
  const std::string leaf = name.substr(name.rfind('.') + 1);  // whole name when there is no dot
  return t.dim() == 4 && leaf == "weight";
}
using util::starts_with;
}  // namespace

Sgd::Sgd(const torch::nn::Module& net, const config::TrainConfig& cfg, const std::string& head_prefix)
    : base_lr_(cfg.lr),
      weight_decay_(cfg.weight_decay),
      momentum_(cfg.optimizer == "reference" ? kReferenceMomentum : cfg.momentum),
      power_(cfg.poly_power) {
  groups_.push_back(ParamGroup{"backbone_conv", 1.0, {}, {}, {}});
  groups_.push_back(ParamGroup{"head_conv", cfg.head_lr_mult, {}, {}, {}});
  for (const auto& p : net.named_parameters(/*recurse=*/true)) {
    if (!is_conv_weight(p.key(), p.value())) continue;  // BatchNorm affine: frozen, as the reference
    ParamGroup& g = starts_with(p.key(), head_prefix) ? groups_[1] : groups_[0];
    g.names.push_back(p.key());
    g.params.push_back(p.value());
    g.momentum.emplace_back();
  }
}

void freeze_batchnorm_affine(torch::nn::Module& net) {
  for (auto& p : net.named_parameters(/*recurse=*/true)) {
    if (p.value().dim() == 1) p.value().set_requires_grad(false);
  }
}

double Sgd::lr_at(int64_t step, int64_t max_steps) const {
  const double frac = max_steps > 0 ? static_cast<double>(step) / static_cast<double>(max_steps) : 0.0;
  return base_lr_ * std::pow(std::max(0.0, 1.0 - frac), power_);
}

void Sgd::step(int64_t step, int64_t max_steps) {
  torch::NoGradGuard no_grad;
  const double lr = lr_at(step, max_steps);
  for (ParamGroup& g : groups_) {
    const double group_lr = lr * g.lr_mult;
    for (size_t i = 0; i < g.params.size(); ++i) {
      torch::Tensor& p = g.params[i];
      if (!p.grad().defined()) continue;
      torch::Tensor d_p = p.grad();
      if (weight_decay_ != 0) d_p = d_p.add(p, weight_decay_);
      if (momentum_ != 0) {
        torch::Tensor& buf = g.momentum[i];
        if (!buf.defined()) {
          buf = d_p.clone().detach();
        } else {
          buf.mul_(momentum_).add_(d_p);
        }
        d_p = buf;
      }
      p.add_(d_p, -group_lr);
    }
  }
}

void Sgd::zero_grad() {
  for (ParamGroup& g : groups_) {
    for (torch::Tensor& p : g.params) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
  }
}

}  // namespace c2am::train
