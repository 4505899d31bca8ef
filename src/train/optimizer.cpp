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

// Whether SGD trains this parameter (train.parameters): every one, or the conv weights only.
bool trained(const config::TrainConfig& cfg, const std::string& name, const torch::Tensor& t) {
  return cfg.parameters == "all" || is_conv_weight(name, t);
}
}  // namespace

Sgd::Sgd(const torch::nn::Module& net, const config::TrainConfig& cfg, const std::string& head_prefix)
    : base_lr_(cfg.lr),
      weight_decay_(cfg.weight_decay),
      momentum_(cfg.optimizer == "reference" ? kReferenceMomentum : cfg.momentum),
      power_(cfg.poly_power),
      cosine_(cfg.lr_schedule == "cosine"),
      fused_(cfg.fused_optimizer) {
  const bool all = cfg.parameters == "all";
  groups_.push_back(ParamGroup{all ? "backbone" : "backbone_conv", 1.0, {}, {}, {}});
  groups_.push_back(ParamGroup{all ? "head" : "head_conv", cfg.head_lr_mult, {}, {}, {}});
  for (const auto& p : net.named_parameters(/*recurse=*/true)) {
    if (!trained(cfg, p.key(), p.value())) continue;  // "conv": BatchNorm affine frozen, as the reference
    ParamGroup& g = starts_with(p.key(), head_prefix) ? groups_[1] : groups_[0];
    g.names.push_back(p.key());
    g.params.push_back(p.value());
    g.momentum.emplace_back();
  }
}

void freeze_untrained(torch::nn::Module& net, const config::TrainConfig& cfg) {
  for (auto& p : net.named_parameters(/*recurse=*/true)) {
    if (!trained(cfg, p.key(), p.value())) p.value().set_requires_grad(false);
  }
}

double Sgd::lr_at(int64_t step, int64_t max_steps) const {
  const double frac = max_steps > 0 ? static_cast<double>(step) / static_cast<double>(max_steps) : 0.0;
  if (cosine_) return base_lr_ * (1.0 + std::cos(M_PI * std::min(frac, 1.0))) / 2.0;
  return base_lr_ * std::pow(std::max(0.0, 1.0 - frac), power_);
}

void Sgd::step(int64_t step, int64_t max_steps) {
  torch::NoGradGuard no_grad;
  const double lr = lr_at(step, max_steps);
  for (ParamGroup& g : groups_) {
    const double group_lr = lr * g.lr_mult;
    if (!fused_) {
      step_per_parameter(g, group_lr);
      continue;
    }
    const Directions dir = directions(g);
    if (!dir.params.empty()) at::_foreach_add_(dir.params, dir.d, -group_lr);
  }
}

// The reference form: a few ops per parameter.
void Sgd::step_per_parameter(ParamGroup& g, double group_lr) {
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

// The same arithmetic as step_per_parameter, op by op, each op once over the
// group's lists: d = grad + wd * p; buf = buf * m + d (or a copy of d at the
// first step); p += -lr * buf.
Sgd::Directions Sgd::directions(ParamGroup& g) {
  Directions out;
  std::vector<torch::Tensor> grads;
  std::vector<size_t> index;  // into g.params
  for (size_t i = 0; i < g.params.size(); ++i) {
    if (!g.params[i].grad().defined()) continue;
    out.params.push_back(g.params[i]);
    grads.push_back(g.params[i].grad());
    index.push_back(i);
  }
  if (out.params.empty()) return out;
  out.d = weight_decay_ != 0 ? at::_foreach_add(grads, out.params, weight_decay_) : grads;
  if (momentum_ == 0) return out;
  std::vector<torch::Tensor> bufs, into;  // buffers that exist, and what each adds
  for (size_t k = 0; k < index.size(); ++k) {
    torch::Tensor& buf = g.momentum[index[k]];
    if (!buf.defined()) {
      buf = out.d[k].clone().detach();
    } else {
      bufs.push_back(buf);
      into.push_back(out.d[k]);
    }
    out.d[k] = buf;
  }
  if (!bufs.empty()) {
    at::_foreach_mul_(bufs, momentum_);
    at::_foreach_add_(bufs, into);
  }
  return out;
}

void Sgd::set_lr_tensors(int64_t step, int64_t max_steps) {
  torch::NoGradGuard no_grad;
  if (lr_tensors_.empty()) {
    torch::Device device = torch::kCPU;
    for (const ParamGroup& g : groups_)
      if (!g.params.empty()) device = g.params.front().device();
    for (size_t i = 0; i < groups_.size(); ++i)
      lr_tensors_.push_back(torch::zeros({}, torch::TensorOptions(torch::kFloat).device(device)));
  }
  const double lr = lr_at(step, max_steps);
  for (size_t i = 0; i < groups_.size(); ++i) lr_tensors_[i].fill_(-lr * groups_[i].lr_mult);
}

void Sgd::ensure_momentum_buffers() {
  if (momentum_ == 0) return;
  for (ParamGroup& g : groups_) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      if (!g.momentum[i].defined()) g.momentum[i] = torch::zeros_like(g.params[i]);
    }
  }
}

void Sgd::step_with_lr_tensors() {
  TORCH_CHECK(lr_tensors_.size() == groups_.size(), "Sgd::step_with_lr_tensors before set_lr_tensors");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Directions dir = directions(groups_[i]);
    // p += d * (-lr): the rate is read on the device, so a replayed graph sees each step's value.
    for (size_t k = 0; k < dir.params.size(); ++k) dir.params[k].addcmul_(dir.d[k], lr_tensors_[i]);
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
