#include "model/c2am_net.h"

namespace c2am::model {

DisentanglerImpl::DisentanglerImpl(int channels) {
  activation_head = register_module(
      "activation_head", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 1, 3).padding(1).bias(false)));
  bn_head = register_module("bn_head", SyncableBatchNorm2d(1));
}

C2amOutput DisentanglerImpl::forward(const torch::Tensor& z) {
  const int64_t n = z.size(0), c = z.size(1), hw = z.size(2) * z.size(3);
  C2amOutput out;
  out.logits = bn_head(activation_head(z));
  out.map = torch::sigmoid(out.logits);
  const torch::Tensor p = out.map.reshape({n, 1, hw});
  const torch::Tensor feats = z.reshape({n, c, hw}).transpose(1, 2);  // N x hw x C
  out.v_f = torch::matmul(p, feats).reshape({n, c}) / static_cast<double>(hw);
  out.v_b = torch::matmul(1 - p, feats).reshape({n, c}) / static_cast<double>(hw);
  return out;
}

C2amNetImpl::C2amNetImpl(const ResNetOptions& options) {
  backbone = register_module("backbone", ResNet(options));
  ac_head = register_module("ac_head", Disentangler(feature_channels(options.arch)));
}

C2amOutput C2amNetImpl::forward(const torch::Tensor& images) {
  const ResNetFeatures f = run_backbone(*backbone, images, precision);
  const torch::Tensor z = torch::cat({f.layer4, f.layer3}, /*dim=*/1);
  return ac_head->forward(z);
}

torch::Tensor oriented_map(const torch::Tensor& map, bool negative) { return negative ? 1 - map : map; }

bool border_says_negative(const torch::Tensor& map) {
  const torch::Tensor m = (map.index({0, 0}).detach().to(torch::kCPU) > 0.5).to(torch::kDouble);
  const double edge = (m.index({0}).mean() + m.select(1, 0).mean() + m.index({-1}).mean() +
                       m.select(1, m.size(1) - 1).mean())
                          .item<double>() /
                      4.0;
  return edge > 0.5;
}

torch::Tensor border_band_sums(const torch::Tensor& maps, int64_t band) {
  const torch::Tensor m = maps.detach().to(torch::kCPU, torch::kDouble).select(1, 0);  // N x h x w
  const int64_t h = m.size(1), w = m.size(2);
  const int64_t bh = std::min(band, h), bw = std::min(band, w);
  return torch::stack({m.narrow(1, 0, bh).mean({1, 2}).sum(), m.narrow(2, 0, bw).mean({1, 2}).sum(),
                       m.narrow(1, h - bh, bh).mean({1, 2}).sum(), m.narrow(2, w - bw, bw).mean({1, 2}).sum(),
                       torch::scalar_tensor(static_cast<double>(m.size(0)), torch::kDouble)});
}

bool bands_say_negative(const torch::Tensor& sums) {
  const double n = sums[4].item<double>();
  if (n <= 0) return false;
  return (sums.narrow(0, 0, 4).sum().item<double>() / n) / 4.0 > 0.5;
}

}  // namespace c2am::model
