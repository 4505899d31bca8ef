// Implements: where a rank's tensors live and the precision its network runs
// in: the device (run.device: auto = cuda:<local rank> when CUDA is available,
// else the CPU), bf16 autocast for the backbone (run.precision = "bf16"; the
// heads, poolings and losses stay in fp32), channels_last parameters and
// inputs, cuDNN autotuning. LibTorch 1.13 and 2.x spell autocast differently;
// that difference stays inside precision.cpp.
#pragma once
#include <torch/torch.h>

#include <string>

#include "config/config.h"
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

// Whether `device` computes bf16 natively: a CUDA GPU of compute capability
// >= 8.0 (Ampere, Hopper; LibTorch's cuDNN v8 bf16 check), or an x86-64 CPU
// with AVX512-BF16 or AMX-BF16 (CPUID). Elsewhere bf16 is emulated and slower
// than fp32, so "auto" keeps fp32 there.
bool has_native_bf16(const torch::Device& device);

// run.precision and run.channels_last on `device`: "auto" precision is bf16
// where has_native_bf16, else fp32; "auto" channels_last follows bf16 (the
// layout oneDNN and cuDNN run bf16 convolutions in).
Precision resolve_precision(const config::RunConfig& run, const torch::Device& device);

// "bf16, channels_last" / "fp32" for logs and benchmark descriptions.
std::string describe(const Precision& p);

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
