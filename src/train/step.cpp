#include "train/step.h"

namespace c2am::train {

StepLoss TrainStep::forward_backward(const data::Batch& batch) {
  StepLoss loss = task_.loss(batch, comm_);
  sgd_.zero_grad();
  if (sync_) sync_->begin_step();
  loss.total.backward();
  if (sync_) sync_->finish();
  return loss;
}

StepLoss TrainStep::run(const data::Batch& batch, std::int64_t step, std::int64_t max_steps) {
  if (graph_) return graph_->run(batch, step, max_steps);
  StepLoss loss = forward_backward(batch);
  sgd_.step(step, max_steps);
  return loss;
}

void TrainStep::use_cuda_graphs(const config::Config& cfg, const torch::Device& device, const util::Logger& log) {
  if (!cfg.run.cuda_graphs) return;
  const std::string obstacle = graph_capture_obstacle(cfg, device, comm_);
  if (!obstacle.empty()) {
    log.info("run.cuda_graphs = true, but the step cannot be captured here: {}; training runs the eager step",
             obstacle);
    return;
  }
  graph_ = make_graph_step([this](const data::Batch& b) { return forward_backward(b); }, sgd_, device, log);
}

}  // namespace c2am::train
