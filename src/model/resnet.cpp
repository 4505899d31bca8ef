#include "model/resnet.h"

#include "util/error.h"

namespace c2am::model {

namespace {

torch::nn::Conv2d conv(int in, int out, int kernel, int stride, int padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

struct ArchSpec {
  bool bottleneck;
  std::array<int, 4> blocks;
};

ArchSpec arch_spec(const std::string& arch) {
  if (arch == "resnet18") return {false, {2, 2, 2, 2}};
  if (arch == "resnet34") return {false, {3, 4, 6, 3}};
  if (arch == "resnet50") return {true, {3, 4, 6, 3}};
  if (arch == "resnet101") return {true, {3, 4, 23, 3}};
  throw UsageError("unknown architecture '" + arch + "' (expected resnet18, resnet34, resnet50 or resnet101)");
}

// torchvision's BasicBlock (expansion 1) and Bottleneck (expansion 4, stride on conv2).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int inplanes, int planes, int stride, bool bottleneck) : bottleneck_(bottleneck) {
    const int expansion = bottleneck ? 4 : 1;
    if (bottleneck) {
      conv1_ = register_module("conv1", conv(inplanes, planes, 1, 1, 0));
      bn1_ = register_module("bn1", SyncableBatchNorm2d(planes));
      conv2_ = register_module("conv2", conv(planes, planes, 3, stride, 1));
      bn2_ = register_module("bn2", SyncableBatchNorm2d(planes));
      conv3_ = register_module("conv3", conv(planes, planes * expansion, 1, 1, 0));
      bn3_ = register_module("bn3", SyncableBatchNorm2d(planes * expansion));
    } else {
      conv1_ = register_module("conv1", conv(inplanes, planes, 3, stride, 1));
      bn1_ = register_module("bn1", SyncableBatchNorm2d(planes));
      conv2_ = register_module("conv2", conv(planes, planes, 3, 1, 1));
      bn2_ = register_module("bn2", SyncableBatchNorm2d(planes));
    }
    if (stride != 1 || inplanes != planes * expansion) {
      downsample_ = register_module(
          "downsample", torch::nn::Sequential(conv(inplanes, planes * expansion, 1, stride, 0),
                                              SyncableBatchNorm2d(planes * expansion)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = torch::relu(bn1_(conv1_(x)));
    out = bn2_(conv2_(out));
    if (bottleneck_) {
      out = torch::relu(out);
      out = bn3_(conv3_(out));
    }
    const torch::Tensor identity = downsample_.is_empty() ? x : downsample_->forward(x);
    return torch::relu(out + identity);
  }

 private:
  bool bottleneck_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  SyncableBatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

std::array<int, 4> stage_channels(const std::string& arch) {
  const int expansion = arch_spec(arch).bottleneck ? 4 : 1;
  return {64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion};
}

int feature_channels(const std::string& arch) {
  const std::array<int, 4> c = stage_channels(arch);
  return c[2] + c[3];
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) {
  const ArchSpec spec = arch_spec(options.arch);
  for (int s : options.strides) {
    if (s != 1 && s != 2) throw UsageError("model.strides: each stride must be 1 or 2, got " + std::to_string(s));
  }
  conv1_ = register_module("conv1", conv(3, 64, 7, 2, 3));
  bn1_ = register_module("bn1", SyncableBatchNorm2d(64));
  layer1_ = register_module("layer1", make_layer(64, spec.blocks[0], options.strides[0], spec.bottleneck));
  layer2_ = register_module("layer2", make_layer(128, spec.blocks[1], options.strides[1], spec.bottleneck));
  layer3_ = register_module("layer3", make_layer(256, spec.blocks[2], options.strides[2], spec.bottleneck));
  layer4_ = register_module("layer4", make_layer(512, spec.blocks[3], options.strides[3], spec.bottleneck));

  // torchvision's initialisation: Kaiming normal (fan_out, relu) for convs, BN 1/0.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(c->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
    } else if (auto* b = module->as<SyncableBatchNorm2d>()) {
      torch::nn::init::ones_(b->weight);
      torch::nn::init::zeros_(b->bias);
    }
  }
}

torch::nn::Sequential ResNetImpl::make_layer(int planes, int blocks, int stride, bool bottleneck) {
  torch::nn::Sequential layer;
  layer->push_back(Block(inplanes_, planes, stride, bottleneck));
  inplanes_ = planes * (bottleneck ? 4 : 1);
  for (int i = 1; i < blocks; ++i) layer->push_back(Block(inplanes_, planes, 1, bottleneck));
  return layer;
}

ResNetFeatures ResNetImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(bn1_(conv1_(x)));
  h = torch::max_pool2d(h, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  ResNetFeatures f;
  f.layer1 = layer1_->forward(h);
  f.layer2 = layer2_->forward(f.layer1);
  f.layer3 = layer3_->forward(f.layer2);
  f.layer4 = layer4_->forward(f.layer3);
  return f;
}

}  // namespace c2am::model
