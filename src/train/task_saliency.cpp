// Implements: the saliency task (method doc §8 step 4): the saliency network
// trained on background cues as pseudo labels (data.cues: <stem>.png, 255 =
// foreground), resized, cropped and flipped with the image (nearest), with
// per-pixel binary cross-entropy on the logits, averaged over each rank's pixels.
#include "train/task.h"
#include "util/error.h"

namespace c2am::train {

namespace {

class SaliencyTask : public Task {
 public:
  explicit SaliencyTask(const config::Config& cfg)
      : Task(std::make_unique<model::SaliencyNetwork>(cfg.model)),
        net_(static_cast<model::SaliencyNetwork&>(network()).saliency()),
        cues_(cfg.data.cues) {}
  std::vector<std::string> term_names() const override { return {"loss"}; }
  void configure_loader(data::LoaderOptions& o) const override {
    if (cues_.empty()) {
      throw UsageError(
          "model.kind = \"saliency\" trains on background cues: set data.cues (or --cues DIR) to the "
          "folder c2am bg-cues wrote");
    }
    o.targets = data::TargetKind::kMask;
    o.masks = data::png_folder_masks(cues_);
  }
  double rank_share(int world) const override { return 1.0 / world; }
  StepLoss loss(const data::Batch& batch, comm::Communicator&) override {
    const torch::Tensor logits = net_.forward(batch.images);
    const torch::Tensor targets =
        (batch.targets.to(logits.device()) > 127).to(logits.scalar_type()).unsqueeze(1);  // 255 = foreground
    const torch::Tensor l = torch::binary_cross_entropy_with_logits(logits, targets);
    return StepLoss{l, {l}, {}};
  }

 private:
  model::SaliencyNetImpl& net_;
  std::string cues_;
};

}  // namespace

std::unique_ptr<Task> make_saliency_task(const config::Config& cfg) {
  return std::make_unique<SaliencyTask>(cfg);
}

}  // namespace c2am::train
