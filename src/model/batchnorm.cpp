#include "model/batchnorm.h"

namespace c2am::model {

SyncableBatchNorm2dImpl::SyncableBatchNorm2dImpl(int64_t features, double eps, double momentum)
    : features(features), eps(eps), momentum(momentum) {
  reset();
}

void SyncableBatchNorm2dImpl::reset() {
  weight = register_parameter("weight", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

void SyncableBatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "BatchNorm2d(" << features << ", eps=" << eps << ", momentum=" << momentum
         << (sync ? ", synchronised" : "") << ")";
}

torch::Tensor SyncableBatchNorm2dImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "BatchNorm2d expects N x C x H x W input, got ", x.dim(), " dimensions");
  if (is_training()) {
    if (sync) return sync->forward(*this, x);
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                           /*cudnn_enabled=*/true);
}

}  // namespace c2am::model
