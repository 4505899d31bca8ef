// Implements: the C²AM training task (see task.h), exposed so that the
// training loop can hand its network to the periodic WSOL evaluation.
#pragma once
#include "model/c2am_net.h"
#include "train/task.h"

namespace c2am::train {

class C2amTask : public Task {
 public:
  explicit C2amTask(const config::Config& cfg);
  torch::nn::Module& net() override { return *net_; }
  void set_precision(const model::Precision& p) override { net_->precision = p; }
  std::vector<std::string> term_names() const override;
  std::string head_prefix() const override { return "ac_head."; }
  torch::nn::Module* head() override { return net_->ac_head.ptr().get(); }
  double rank_share(int world) const override;
  StepLoss loss(const data::Batch& batch, dist::Communicator& comm) override;
  torch::Tensor maps(const torch::Tensor& images) override { return net_->forward(images).logits; }

  model::C2amNetImpl& c2am() { return *net_; }

 private:
  model::C2amNet net_;
  double alpha_;
  bool local_negatives_;
};

}  // namespace c2am::train
