// Implements: the class-agnostic box regressor of PSOL (the authors'
// WSOL/PSOL/models/models.py, choose_locmodel): a ResNet backbone, global
// average pooling of layer4, and the head fc = Linear(C, 512), ReLU,
// Linear(512, 4), Sigmoid, predicting one box per image as (x, y, w, h)
// divided by the crop side. Parameter names: backbone.* (torchvision),
// fc.0.* and fc.2.* (torchvision's ResNet with PSOL's fc, so a PSOL
// state_dict's names map one to one).
#pragma once
#include <torch/torch.h>

#include "model/precision.h"
#include "model/resnet.h"

namespace c2am::model {

class RegressorNetImpl : public torch::nn::Module {
 public:
  explicit RegressorNetImpl(const ResNetOptions& options);
  // N x 4 in [0, 1]: (x, y, w, h) / crop side, fp32.
  torch::Tensor forward(const torch::Tensor& images);

  ResNet backbone{nullptr};
  torch::nn::Sequential fc{nullptr};
  Precision precision;  // for the backbone; pooling and the head run in fp32
};
TORCH_MODULE(RegressorNet);

}  // namespace c2am::model
