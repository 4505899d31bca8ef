// Implements: the C²AM task (method doc §2-4): the network, the three
// contrastive losses over the global batch (each rank's rows against every
// rank's embeddings, one differentiable gather of [v_f | v_b]) or within the
// rank (dist.negatives = "local", the reference's DDP).
#include "train/task_c2am.h"

#include "dist/autograd_ops.h"
#include "loss/contrastive_loss.h"

namespace c2am::train {

C2amTask::C2amTask(const config::Config& cfg)
    : net_(model::ResNetOptions{cfg.model.arch, cfg.model.strides}),
      alpha_(cfg.loss.alpha),
      local_negatives_(cfg.dist.negatives == "local") {}

std::vector<std::string> C2amTask::term_names() const { return {"loss", "pos_bg", "neg", "pos_fg"}; }

double C2amTask::rank_share(int world) const { return local_negatives_ ? 1.0 / world : 1.0; }

StepLoss C2amTask::loss(const data::Batch& batch, dist::Communicator& comm) {
  const model::C2amOutput out = net_->forward(batch.images);
  loss::LossTerms l;
  if (comm.world() == 1 || local_negatives_) {
    l = loss::c2am_loss(out.v_f, out.v_b, alpha_);
  } else {
    const int64_t c = out.v_f.size(1);
    const torch::Tensor all = dist::gather_rows(comm, torch::cat({out.v_f, out.v_b}, /*dim=*/1));
    l = loss::c2am_loss_rows(out.v_f, out.v_b, all.narrow(1, 0, c), all.narrow(1, c, c), alpha_);
  }
  return StepLoss{l.total, {l.total, l.pos_bg, l.neg, l.pos_fg}, out.map};
}

}  // namespace c2am::train
