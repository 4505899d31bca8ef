// Implements: where a rank's tensors live and the precision its network runs
// in: the device (run.device: auto = cuda:<local rank> when CUDA is available,
// else the CPU), bf16 autocast for the backbone (run.precision = "bf16"; the
// heads, poolings and losses stay in fp32), channels_last parameters and
// inputs, cuDNN autotuning. LibTorch 1.13 and 2.x spell autocast differently;
// that difference stays inside precision.cpp.
#pragma once
#include <torch/torch.h>

#include <string>

#include "model/resnet.h"

namespace c2am::model {

// `setting`: "auto" | "cpu" | "cuda" | "cuda:N". "auto" and "cuda" pick
// cuda:<local_rank % devices>; "cuda" without a GPU is a UsageError.
torch::Device resolve_device(const std::string& setting, int local_rank);

// How a network runs: bf16 autocast around its backbone, channels_last.
struct Precision {
  bool bf16 = false;
  bool channels_last = false;
};

// bf16 autocast on `device`'s type for the guard's lifetime (nested guards
// restore the previous state; the cast cache is cleared at the outermost exit).
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  torch::DeviceType type_;
  bool enabled_;
  bool previous_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

// The backbone's stages under `p`: autocast when p.bf16 (outputs cast back
// to fp32), the input in channels_last when p.channels_last.
ResNetFeatures run_backbone(ResNetImpl& backbone, const torch::Tensor& images, const Precision& p);

// Moves `net` to `device` and, with channels_last, its 4-D parameters and
// buffers into that memory format.
void place(torch::nn::Module& net, const torch::Device& device, bool channels_last);

// cuDNN autotuning (a no-op without cuDNN).
void set_cudnn_benchmark(bool on);

}  // namespace c2am::model
