// Implements: DeviceFeed for CUDA builds of LibTorch: the copy of the next
// batch runs on a side stream of the device, ordered before its use by an
// event; CPU devices behave as in device_feed.cpp.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "train/device_feed.h"

namespace c2am::train {

struct DeviceFeed::Impl {
  torch::Device device;
  data::Transform transform;  // mean and std of uint8 batches
  std::optional<c10::cuda::CUDAStream> side;  // CUDA devices only
  std::optional<data::Batch> staged;
  std::unique_ptr<at::cuda::CUDAEvent> copied;
};

DeviceFeed::DeviceFeed(const torch::Device& device, const data::Transform& transform)
    : impl_(new Impl{device, transform, std::nullopt, std::nullopt, nullptr}) {
  if (device.is_cuda()) impl_->side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
}

DeviceFeed::~DeviceFeed() = default;

void DeviceFeed::stage(data::Batch batch) {
  if (!impl_->device.is_cuda()) {
    impl_->staged = std::move(batch);
    return;
  }
  const c10::cuda::CUDAStreamGuard on_side(*impl_->side);
  batch.images = batch.images.to(impl_->device, /*non_blocking=*/true);
  if (batch.targets.defined()) batch.targets = batch.targets.to(impl_->device, /*non_blocking=*/true);
  impl_->copied = std::make_unique<at::cuda::CUDAEvent>();
  impl_->copied->record(*impl_->side);
  impl_->staged = std::move(batch);
}

std::optional<data::Batch> DeviceFeed::take() {
  std::optional<data::Batch> out = std::move(impl_->staged);
  impl_->staged.reset();
  if (out && impl_->device.is_cuda()) {
    const c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream(impl_->device.index());
    impl_->copied->block(compute);  // the compute stream waits for the copy, the host does not
    out->images.record_stream(compute);
    if (out->targets.defined()) out->targets.record_stream(compute);
    impl_->copied.reset();
  }
  if (out) out->images = data::normalise_batch(out->images, impl_->transform.mean, impl_->transform.std);
  return out;
}

void DeviceFeed::clear() {
  impl_->staged.reset();
  impl_->copied.reset();
}

}  // namespace c2am::train
