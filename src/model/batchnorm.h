// Implements: the network's BatchNorm layer: torchvision's BatchNorm2d (same
// parameter and buffer names and numbers) whose training-mode forward can be handed to a
// BatchNormSync, so the distributed layer can compute batch statistics over
// the global batch (SyncBatchNorm) without the model knowing about ranks.
#pragma once
#include <torch/torch.h>

#include <memory>

namespace c2am::model {

class SyncableBatchNorm2dImpl;

class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // Training-mode forward of `bn` on x (N x C x H x W), updating its running
  // statistics as BatchNorm2d does.
  virtual torch::Tensor forward(SyncableBatchNorm2dImpl& bn, const torch::Tensor& x) = 0;
};

// torch::nn::BatchNorm2d's parameters, buffers, defaults and forward, plus
// the hand-off. (LibTorch does not export what a subclass of BatchNorm2dImpl
// would need, hence a module of its own.)
class SyncableBatchNorm2dImpl : public torch::nn::Cloneable<SyncableBatchNorm2dImpl> {
 public:
  explicit SyncableBatchNorm2dImpl(int64_t features, double eps = 1e-5, double momentum = 0.1);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& x);

  int64_t features;
  double eps;
  double momentum;
  torch::Tensor weight, bias;                                       // affine, 1 and 0 at start
  torch::Tensor running_mean, running_var, num_batches_tracked;  // buffers
  std::shared_ptr<BatchNormSync> sync;
};
TORCH_MODULE(SyncableBatchNorm2d);

// Hands every SyncableBatchNorm2d under `root` to `sync` (nullptr: local
// statistics again); returns how many layers.
inline int set_batchnorm_sync(torch::nn::Module& root, const std::shared_ptr<BatchNormSync>& sync) {
  int n = 0;
  for (auto& m : root.modules(/*include_self=*/true)) {
    if (auto* bn = m->as<SyncableBatchNorm2dImpl>()) {
      bn->sync = sync;
      ++n;
    }
  }
  return n;
}

}  // namespace c2am::model
