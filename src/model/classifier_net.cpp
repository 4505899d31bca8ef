#include "model/classifier_net.h"

namespace c2am::model {

ClassifierNetImpl::ClassifierNetImpl(const ResNetOptions& options, int num_classes) {
  backbone = register_module("backbone", ResNet(options));
  const int channels = stage_channels(options.arch)[3];
  classifier = register_module(
      "classifier", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, num_classes, 1).bias(false)));
}

torch::Tensor ClassifierNetImpl::forward(const torch::Tensor& images) {
  const torch::Tensor f = run_backbone(*backbone, images, precision).layer4;
  const torch::Tensor pooled = f.mean({2, 3}, /*keepdim=*/true);
  return classifier(pooled).flatten(1);
}

torch::Tensor ClassifierNetImpl::cams(const torch::Tensor& images) {
  return classifier(run_backbone(*backbone, images, precision).layer4);
}

}  // namespace c2am::model
