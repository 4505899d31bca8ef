// Implements: ResNet-18/34/50/101 in torchvision's layout and parameter names
// (conv1, bn1, layer1..layer4, blocks layerK.i.conv1/bn1/..., downsample.0/1)
// with configurable stage strides; forward returns the output of every stage.
#pragma once
#include <torch/torch.h>

#include "model/batchnorm.h"

#include <array>
#include <string>

namespace c2am::model {

struct ResNetOptions {
  std::string arch = "resnet50";              // resnet18 | resnet34 | resnet50 | resnet101
  std::array<int, 4> strides = {1, 2, 2, 1};  // layer1..layer4
};

// Channels of cat(layer4, layer3) for an architecture (768 or 3072).
int feature_channels(const std::string& arch);
// Output channels of layer1..layer4 (64, 128, 256, 512, or 4x for ResNet-50/101).
std::array<int, 4> stage_channels(const std::string& arch);

struct ResNetFeatures {
  torch::Tensor layer1;
  torch::Tensor layer2;
  torch::Tensor layer3;
  torch::Tensor layer4;
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  ResNetFeatures forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential make_layer(int planes, int blocks, int stride, bool bottleneck);

  int inplanes_ = 64;
  torch::nn::Conv2d conv1_{nullptr};
  SyncableBatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace c2am::model
