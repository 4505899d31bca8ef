// Implements: the saliency network that refines background cues (method doc
// §8 step 4; the reference trains PoolNet, we train a lighter network of the
// same kind through our own trainer): the ResNet backbone and a small
// feature-pyramid decoder: 1x1 lateral convs bring layer1..layer4 to one width,
// a top-down path upsamples and adds them, two convs predict one saliency
// logit at layer1's resolution (stride 4), upsampled bilinearly to the input.
// Parameter names: backbone.* (torchvision), decoder.*.
#pragma once
#include <torch/torch.h>

#include "model/precision.h"
#include "model/resnet.h"

namespace c2am::model {

class SaliencyDecoderImpl : public torch::nn::Module {
 public:
  SaliencyDecoderImpl(const std::array<int, 4>& in_channels, int width);
  // One logit map at layer1's resolution, N x 1 x h1 x w1.
  torch::Tensor forward(const ResNetFeatures& f);

  torch::nn::ModuleList lateral{nullptr};  // lateral.0..3: 1x1 convs of layer1..layer4
  torch::nn::Conv2d smooth{nullptr};       // 3x3 conv on the merged pyramid
  torch::nn::Conv2d predict{nullptr};      // 1x1 conv to one logit
};
TORCH_MODULE(SaliencyDecoder);

class SaliencyNetImpl : public torch::nn::Module {
 public:
  explicit SaliencyNetImpl(const ResNetOptions& options, int width = 64);
  // Saliency logits at the input's resolution, N x 1 x H x W (sigmoid = saliency).
  torch::Tensor forward(const torch::Tensor& images);

  ResNet backbone{nullptr};
  SaliencyDecoder decoder{nullptr};
  Precision precision;  // for the backbone; the decoder runs in fp32
};
TORCH_MODULE(SaliencyNet);

}  // namespace c2am::model
