// Implements: the box regressor task (PSOL, the authors' WSOL/PSOL/
// training_CUB.py): the regressor (model/regressor_net.h) trained on the
// pseudo boxes of c2am extract-boxes (data.boxes), each box following its
// image's resize, crop and flip (data::TargetKind::kBox), with the loss
// 50 x MSE between the predicted and the target (x, y, w, h) / crop, the mean
// over each rank's n x 4 values (gradients averaged over ranks, as DDP).
#include "train/task.h"
#include "util/error.h"

namespace c2am::train {

namespace {

// PSOL's lambda_reg: the MSE is multiplied by 50 (training_CUB.py, training_ILSVRC.py).
constexpr double kPsolLossWeight = 50.0;

class RegressorTask : public Task {
 public:
  explicit RegressorTask(const config::Config& cfg)
      : Task(std::make_unique<model::RegressorNetwork>(cfg.model)),
        net_(static_cast<model::RegressorNetwork&>(network()).regressor()),
        boxes_(cfg.data.boxes) {}
  std::vector<std::string> term_names() const override { return {"loss"}; }
  void configure_loader(data::LoaderOptions& o) const override {
    if (boxes_.empty()) {
      throw UsageError(
          "model.kind = \"regressor\" trains on pseudo boxes: set data.boxes (or --boxes) to the boxes.jsonl "
          "that c2am extract-boxes wrote for the training split (or its folder)");
    }
    o.targets = data::TargetKind::kBox;
    o.boxes = data::pseudo_boxes(boxes_);
  }
  double rank_share(int world) const override { return 1.0 / world; }
  StepLoss loss(const data::Batch& batch, comm::Communicator&) override {
    const torch::Tensor predicted = net_.forward(batch.images);
    const torch::Tensor l =
        kPsolLossWeight *
        torch::mse_loss(predicted, batch.targets.to(predicted.device(), predicted.scalar_type()));
    return StepLoss{l, {l}, {}};
  }

 private:
  model::RegressorNetImpl& net_;
  std::string boxes_;
};

}  // namespace

std::unique_ptr<Task> make_regressor_task(const config::Config& cfg) {
  return std::make_unique<RegressorTask>(cfg);
}

}  // namespace c2am::train
