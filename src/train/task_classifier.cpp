// Implements: the classifier task: the multi-label ResNet of the WSSS
// baseline CAMs trained on image-level labels (the classes present in each
// image's VOC mask) with the multi-label soft-margin loss, i.e. the mean over
// classes of binary cross-entropy on the logits (PyTorch's
// multilabel_soft_margin_loss), averaged over each rank's images.
#include "train/task.h"

namespace c2am::train {

namespace {

class ClassifierTask : public Task {
 public:
  explicit ClassifierTask(const config::Config& cfg)
      : Task(std::make_unique<model::ClassifierNetwork>(cfg.model)),
        net_(static_cast<model::ClassifierNetwork&>(network()).classifier()),
        num_classes_(cfg.model.num_classes) {}
  std::vector<std::string> term_names() const override { return {"loss"}; }
  void configure_loader(data::LoaderOptions& o) const override {
    o.targets = data::TargetKind::kClassPresence;
    o.num_classes = num_classes_;
  }
  double rank_share(int world) const override { return 1.0 / world; }
  StepLoss loss(const data::Batch& batch, comm::Communicator&) override {
    const torch::Tensor logits = net_.forward(batch.images);
    const torch::Tensor targets = batch.targets.to(logits.device(), logits.scalar_type());
    const torch::Tensor l = torch::binary_cross_entropy_with_logits(logits, targets);
    return StepLoss{l, {l}, {}};
  }

 private:
  model::ClassifierNetImpl& net_;
  int num_classes_;
};

}  // namespace

std::unique_ptr<Task> make_classifier_task(const config::Config& cfg) {
  return std::make_unique<ClassifierTask>(cfg);
}

}  // namespace c2am::train
