// Implements: batches onto the training device ahead of use. On CUDA the next
// batch's host-to-device copy (from the loader's pinned memory) is issued on a
// side stream while the current step computes; take() makes the compute
// stream wait for the copy's event and records the tensors on it for the
// caching allocator, so no host synchronisation is needed. On the CPU a batch
// is used where it is. device_feed.cpp is the CPU build, device_feed_cuda.cpp
// the CUDA one; CMake compiles the one that matches LibTorch. uint8 batches
// (LoaderOptions::uint8) are normalised by take(), on the device, with the
// transform's mean and std (data::normalise_batch).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>

#include "data/loader.h"

namespace c2am::train {

class DeviceFeed {
 public:
  DeviceFeed(const torch::Device& device, const data::Transform& transform);
  ~DeviceFeed();
  DeviceFeed(const DeviceFeed&) = delete;
  DeviceFeed& operator=(const DeviceFeed&) = delete;

  // Starts moving `batch` (images, targets) to the device; returns at once.
  // A batch staged earlier and not taken is dropped.
  void stage(data::Batch batch);
  // The staged batch, usable on the current stream; nullopt when none.
  std::optional<data::Batch> take();
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace c2am::train
