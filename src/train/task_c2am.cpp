// Implements: the C²AM task (method doc §2-5): the network, the three
// contrastive losses over the global batch (each rank's rows against every
// rank's embeddings, one differentiable gather of [v_f | v_b]) or within the
// rank (dist.negatives = "local", the reference's DDP), and the polarity rule.
#include "train/task_c2am.h"

#include "comm/autograd_ops.h"
#include "comm/communicator.h"
#include "loss/contrastive_loss.h"

namespace c2am::train {

C2amTask::C2amTask(const config::Config& cfg)
    : Task(std::make_unique<model::C2amNetwork>(cfg.model)),
      net_(model::C2amNetwork::of(network(), "the C²AM task's network").c2am()),
      alpha_(cfg.loss.alpha),
      local_negatives_(cfg.dist.negatives == "local"),
      wsss_polarity_rule_(cfg.train.polarity_rule == "wsss") {}

std::vector<std::string> C2amTask::term_names() const { return {"loss", "pos_bg", "neg", "pos_fg"}; }

double C2amTask::rank_share(int world) const { return local_negatives_ ? 1.0 / world : 1.0; }

StepLoss C2amTask::loss(const data::Batch& batch, comm::Communicator& comm) {
  const model::C2amOutput out = net_.forward(batch.images);
  loss::LossTerms l;
  if (comm.world() == 1 || local_negatives_) {
    l = loss::c2am_loss(out.v_f, out.v_b, alpha_);
  } else {
    const int64_t c = out.v_f.size(1);
    const torch::Tensor all = comm::gather_rows(comm, torch::cat({out.v_f, out.v_b}, /*dim=*/1));
    l = loss::c2am_loss_rows(out.v_f, out.v_b, all.narrow(1, 0, c), all.narrow(1, c, c), alpha_);
  }
  return StepLoss{l.total, {l.total, l.pos_bg, l.neg, l.pos_fg}, out.map};
}

void C2amTask::after_step(const StepLoss& loss) {
  if (loss.map.defined()) last_map_ = loss.map.detach();
}

// "wsol": rank 0's first image is the global batch's first image, the same
// map a single process would look at. "wsss": the border bands of every
// rank's images, summed over ranks: the whole global batch, as the authors'
// DataParallel saw it.
void C2amTask::decide_polarity(comm::Communicator& comm) {
  if (wsss_polarity_rule_) {
    torch::Tensor sums = model::border_band_sums(last_map_);
    comm.allreduce(sums, comm::ReduceOp::kSum);
    polarity_ = model::bands_say_negative(sums) ? 1 : 0;
    return;
  }
  const int p = comm.rank() == 0 ? (model::border_says_negative(last_map_) ? 1 : 0) : -1;
  polarity_ = static_cast<int>(comm::broadcast_values(comm, {p})[0]);
}

void C2amTask::end_epoch(const EpochEnd& end, comm::Communicator& comm, const util::Logger& log) {
  if (polarity_ < 0 && last_map_.defined()) {
    if (end.complete && end.epoch == 0) {
      decide_polarity(comm);
      log.info("polarity after the first epoch: {}",
               polarity_ ? "negative (1 - P is the foreground)" : "positive");
    } else if (end.last) {
      decide_polarity(comm);  // stopped before the first epoch ended
    }
  }
  last_map_ = torch::Tensor();
}

checkpoint::EvalKeys C2amTask::eval_keys() const {
  checkpoint::EvalKeys k;
  k.polarity = polarity_;
  return k;
}

void C2amTask::broadcast_state(comm::Communicator& comm) {
  polarity_ = static_cast<int>(comm::broadcast_values(comm, {polarity_})[0]);
}

}  // namespace c2am::train
