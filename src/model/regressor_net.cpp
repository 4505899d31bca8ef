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

CropBox regressed_box(const float* xywh, int side) {
  const auto s = static_cast<float>(side);
  const float x0 = xywh[0] * s, y0 = xywh[1] * s;
  // The authors' inference_CUB.py: x1 = w * side + x0, y1 = h * side + y0.
  return CropBox{x0, y0, xywh[2] * s + x0, xywh[3] * s + y0};
}

}  // namespace c2am::model
