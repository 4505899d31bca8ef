// Implements: the C²AM training task (see task.h): the three contrastive
// losses, and the polarity rule of the method doc §5 decided through the
// loop's hooks (on the last batch of the first epoch, or of a shorter run)
// and kept in checkpoints under the shared key.
#pragma once
#include "model/network.h"
#include "train/task.h"

namespace c2am::train {

class C2amTask : public Task {
 public:
  explicit C2amTask(const config::Config& cfg);
  std::vector<std::string> term_names() const override;
  double rank_share(int world) const override;
  StepLoss loss(const data::Batch& batch, comm::Communicator& comm) override;

  void after_step(const StepLoss& loss) override;
  void end_epoch(const EpochEnd& end, comm::Communicator& comm, const util::Logger& log) override;
  checkpoint::EvalKeys eval_keys() const override;
  void restore(const checkpoint::Checkpoint& ckpt) override { polarity_ = ckpt.polarity; }
  void broadcast_state(comm::Communicator& comm) override;
  bool periodic_eval() const override { return true; }

 private:
  void decide_polarity(comm::Communicator& comm);

  model::C2amNetImpl& net_;
  double alpha_;
  bool local_negatives_;
  bool wsss_polarity_rule_;  // train.polarity_rule = "wsss": the whole global batch's border bands
  int polarity_ = -1;       // -1 until decided; 1: 1 - P is the foreground
  torch::Tensor last_map_;  // the maps of the epoch's last batch so far
};

}  // namespace c2am::train
