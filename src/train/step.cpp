#include "train/step.h"

namespace c2am::train {

StepLoss TrainStep::run(const data::Batch& batch, std::int64_t step, std::int64_t max_steps) {
  StepLoss loss = task_.loss(batch, comm_);
  sgd_.zero_grad();
  if (sync_) sync_->begin_step();
  loss.total.backward();
  if (sync_) sync_->finish();
  sgd_.step(step, max_steps);
  return loss;
}

}  // namespace c2am::train
