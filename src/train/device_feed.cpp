// Implements: DeviceFeed for LibTorch builds without CUDA: batches stay where
// the loader made them (the CPU).
#include "train/device_feed.h"

namespace c2am::train {

struct DeviceFeed::Impl {
  torch::Device device;
  data::Transform transform;  // mean and std of uint8 batches
  std::optional<data::Batch> staged;
};

DeviceFeed::DeviceFeed(const torch::Device& device, const data::Transform& transform)
    : impl_(new Impl{device, transform, std::nullopt}) {}
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
  if (out) out->images = data::normalise_batch(out->images, impl_->transform.mean, impl_->transform.std);
  return out;
}

void DeviceFeed::clear() { impl_->staged.reset(); }

}  // namespace c2am::train
