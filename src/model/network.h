// Implements: the network of each model.kind behind one interface, so that
// training (train/task.h), checkpoint loading (checkpoint/trained.h),
// evaluation and the WSSS inference build and run any of them the same way:
// the C²AM network (c2am_net.h), the multi-label classifier of the baseline
// CAMs (classifier_net.h), the saliency network (saliency_net.h) and PSOL's
// box regressor (regressor_net.h).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "model/c2am_net.h"
#include "model/classifier_net.h"
#include "model/precision.h"
#include "model/regressor_net.h"
#include "model/saliency_net.h"

namespace c2am::model {

class Network {
 public:
  virtual ~Network() = default;
  virtual torch::nn::Module& module() = 0;
  // bf16 autocast and channels_last for the backbone (run.precision, run.channels_last).
  virtual void set_precision(const Precision& p) = 0;
  // Parameters whose names start with this are the head (train.head_lr_mult).
  virtual std::string head_prefix() const = 0;
  // The module whose BatchNorms dist.sync_batchnorm = "head" synchronises; nullptr: none.
  virtual torch::nn::Module* head() = 0;
  // The raw maps that inference aggregates over scales (wsss/multiscale.h),
  // N x C x h x w: C²AM's head output before the sigmoid (C = 1), the
  // classifier's CAMs before ReLU (C = classes), saliency logits (C = 1).
  virtual torch::Tensor maps(const torch::Tensor& images) = 0;
};

class C2amNetwork : public Network {
 public:
  explicit C2amNetwork(const config::ModelConfig& m);
  torch::nn::Module& module() override { return *net_; }
  void set_precision(const Precision& p) override { net_->precision = p; }
  std::string head_prefix() const override { return "ac_head."; }
  torch::nn::Module* head() override { return net_->ac_head.ptr().get(); }
  torch::Tensor maps(const torch::Tensor& images) override { return net_->forward(images).logits; }
  C2amNetImpl& c2am() { return *net_; }

  // `net` as the C²AM network; an Error naming `what` when it is another kind.
  static C2amNetwork& of(Network& net, const std::string& what);

 private:
  C2amNet net_;
};

class ClassifierNetwork : public Network {
 public:
  explicit ClassifierNetwork(const config::ModelConfig& m);
  torch::nn::Module& module() override { return *net_; }
  void set_precision(const Precision& p) override { net_->precision = p; }
  std::string head_prefix() const override { return "classifier."; }
  torch::nn::Module* head() override { return nullptr; }
  torch::Tensor maps(const torch::Tensor& images) override { return net_->cams(images); }
  ClassifierNetImpl& classifier() { return *net_; }

 private:
  ClassifierNet net_;
};

class SaliencyNetwork : public Network {
 public:
  explicit SaliencyNetwork(const config::ModelConfig& m);
  torch::nn::Module& module() override { return *net_; }
  void set_precision(const Precision& p) override { net_->precision = p; }
  std::string head_prefix() const override { return "decoder."; }
  torch::nn::Module* head() override { return net_->decoder.ptr().get(); }
  torch::Tensor maps(const torch::Tensor& images) override { return net_->forward(images); }
  SaliencyNetImpl& saliency() { return *net_; }

 private:
  SaliencyNet net_;
};

class RegressorNetwork : public Network {
 public:
  explicit RegressorNetwork(const config::ModelConfig& m);
  torch::nn::Module& module() override { return *net_; }
  void set_precision(const Precision& p) override { net_->precision = p; }
  std::string head_prefix() const override { return "fc."; }
  torch::nn::Module* head() override { return nullptr; }  // no BatchNorm in the head
  // A regressor predicts boxes, not maps: an Error.
  torch::Tensor maps(const torch::Tensor& images) override;
  RegressorNetImpl& regressor() { return *net_; }

  // `net` as the regressor; an Error naming `what` when it is another kind.
  static RegressorNetwork& of(Network& net, const std::string& what);

 private:
  RegressorNet net_;
};

// The network of m.kind (c2am | classifier | saliency | regressor), freshly initialised.
std::unique_ptr<Network> make_network(const config::ModelConfig& m);

}  // namespace c2am::model
