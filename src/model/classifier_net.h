// Implements: the baseline CAM generator of the WSSS stage: a multi-label
// ResNet classifier in the common WSSS form (IRN, PuzzleCAM): backbone
// (output stride 16), global average pooling of layer4, a bias-free 1x1 conv
// classifier; class activation maps are that classifier applied at every
// position of layer4 (before the pooling), so a class's logit is the mean of
// its CAM. Parameter names: backbone.* (torchvision), classifier.weight.
#pragma once
#include <torch/torch.h>

#include "model/precision.h"
#include "model/resnet.h"

namespace c2am::model {

class ClassifierNetImpl : public torch::nn::Module {
 public:
  ClassifierNetImpl(const ResNetOptions& options, int num_classes);
  // Image-level logits, N x num_classes.
  torch::Tensor forward(const torch::Tensor& images);
  // Raw class maps (before ReLU), N x num_classes x h x w at output stride 16.
  torch::Tensor cams(const torch::Tensor& images);

  ResNet backbone{nullptr};
  torch::nn::Conv2d classifier{nullptr};
  Precision precision;  // for the backbone; the classifier and pooling run in fp32
};
TORCH_MODULE(ClassifierNet);

}  // namespace c2am::model
