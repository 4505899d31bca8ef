// Implements: DeviceFeed for LibTorch builds without CUDA: batches stay where
// the loader made them (the CPU).
#include "train/device_feed.h"

namespace c2am::train {

struct DeviceFeed::Impl {
  torch::Device device;
  std::optional<data::Batch> staged;
};

DeviceFeed::DeviceFeed(const torch::Device& device) : impl_(new Impl{device, std::nullopt}) {}
DeviceFeed::~DeviceFeed() = default;

void DeviceFeed::stage(data::Batch batch) {
  if (!impl_->device.is_cpu()) {  // reached only through a misconfiguration: resolve_device refuses CUDA here
    batch.images = batch.images.to(impl_->device);
    if (batch.targets.defined()) batch.targets = batch.targets.to(impl_->device);
  }
  impl_->staged = std::move(batch);
}

std::optional<data::Batch> DeviceFeed::take() {
  std::optional<data::Batch> out = std::move(impl_->staged);
  impl_->staged.reset();
  return out;
}

void DeviceFeed::clear() { impl_->staged.reset(); }

}  // namespace c2am::train
