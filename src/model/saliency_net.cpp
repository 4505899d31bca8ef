#include "model/saliency_net.h"

namespace c2am::model {

namespace {

torch::Tensor upsample_to(const torch::Tensor& x, const torch::Tensor& like) {
  return torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{like.size(2), like.size(3)})
                                                   .mode(torch::kBilinear)
                                                   .align_corners(false));
}

torch::nn::Conv2d conv(int in, int out, int kernel) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(false));
}

}  // namespace

SaliencyDecoderImpl::SaliencyDecoderImpl(const std::array<int, 4>& in_channels, int width) {
  lateral = register_module("lateral", torch::nn::ModuleList());
  for (int c : in_channels) lateral->push_back(conv(c, width, 1));
  smooth = register_module("smooth", conv(width, width, 3));
  predict = register_module("predict", conv(width, 1, 1));
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, /*a=*/0, torch::kFanIn, torch::kReLU);
    }
  }
}

torch::Tensor SaliencyDecoderImpl::forward(const ResNetFeatures& f) {
  const torch::Tensor* stages[4] = {&f.layer1, &f.layer2, &f.layer3, &f.layer4};
  torch::Tensor p = lateral[3]->as<torch::nn::Conv2d>()->forward(*stages[3]);
  for (int k = 2; k >= 0; --k) {
    const torch::Tensor l = lateral[static_cast<size_t>(k)]->as<torch::nn::Conv2d>()->forward(*stages[k]);
    p = l + upsample_to(p, l);
  }
  p = torch::relu(smooth(torch::relu(p)));
  return predict(p);
}

SaliencyNetImpl::SaliencyNetImpl(const ResNetOptions& options, int width) {
  backbone = register_module("backbone", ResNet(options));
  decoder = register_module("decoder", SaliencyDecoder(stage_channels(options.arch), width));
}

torch::Tensor SaliencyNetImpl::forward(const torch::Tensor& images) {
  return upsample_to(decoder(run_backbone(*backbone, images, precision)), images);
}

}  // namespace c2am::model
