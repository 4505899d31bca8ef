#include "model/regressor_net.h"

namespace c2am::model {

RegressorNetImpl::RegressorNetImpl(const ResNetOptions& options) {
  backbone = register_module("backbone", ResNet(options));
  const int channels = stage_channels(options.arch)[3];
  // torch.nn.Linear's own initialisation, as PSOL's head (it sets none).
  fc = register_module("fc", torch::nn::Sequential(torch::nn::Linear(channels, 512), torch::nn::ReLU(),
                                                   torch::nn::Linear(512, 4), torch::nn::Sigmoid()));
}

torch::Tensor RegressorNetImpl::forward(const torch::Tensor& images) {
  const torch::Tensor f = run_backbone(*backbone, images, precision).layer4;
  return fc->forward(f.mean({2, 3}));
}

}  // namespace c2am::model
