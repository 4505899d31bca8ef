#include "model/precision.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/DeviceGuard.h>
#include <fmt/format.h>
#include <torch/version.h>

#include "util/error.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace c2am::model {

namespace {

// The one place that knows LibTorch's two autocast APIs: per-device-type
// functions since 2.4, the CUDA ("gpu") / CPU pairs before.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(torch::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
void set_autocast(torch::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
torch::ScalarType autocast_dtype(torch::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
void set_autocast_dtype(torch::DeviceType t, torch::ScalarType d) { at::autocast::set_autocast_dtype(t, d); }
#else
bool autocast_enabled(torch::DeviceType t) {
  return t == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast(torch::DeviceType t, bool on) {
  if (t == torch::kCUDA) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
}
torch::ScalarType autocast_dtype(torch::DeviceType t) {
  return t == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(torch::DeviceType t, torch::ScalarType d) {
  if (t == torch::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(d);
  } else {
    at::autocast::set_autocast_cpu_dtype(d);
  }
}
#endif

}  // namespace

torch::Device resolve_device(const std::string& setting, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (setting == "cpu" || (setting == "auto" && !cuda)) return torch::kCPU;
  if (!cuda) {
    throw UsageError(
        fmt::format("run.device = \"{}\" but this build or machine has no CUDA device (LibTorch {})", setting,
                    TORCH_VERSION));
  }
  const auto devices = static_cast<int>(torch::cuda::device_count());
  if (setting == "auto" || setting == "cuda") {
    return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(local_rank % devices));
  }
  const torch::Device d(setting);  // "cuda:N"
  if (!d.is_cuda() || d.index() >= devices) {
    throw UsageError(
        fmt::format("run.device = \"{}\": not a CUDA device of this machine ({} found)", setting, devices));
  }
  return d;
}

bool has_native_bf16(const torch::Device& device) {
  if (device.is_cuda()) {
    const c10::DeviceGuard on(device);  // the hook asks about the current device
    return at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8();
  }
#if defined(__x86_64__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool avx512_bf16 = __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5)) != 0;
  const bool amx_bf16 = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx & (1u << 22)) != 0;
  return avx512_bf16 || amx_bf16;
#else
  return false;
#endif
}

Precision resolve_precision(const config::RunConfig& run, const torch::Device& device) {
  Precision p;
  p.bf16 = run.precision == "bf16" || (run.precision == "auto" && has_native_bf16(device));
  p.channels_last = run.channels_last == config::Toggle::kTrue ||
                    (run.channels_last == config::Toggle::kAuto && p.bf16);
  return p;
}

std::string describe(const Precision& p) {
  return fmt::format("{}{}", p.bf16 ? "bf16" : "fp32", p.channels_last ? ", channels_last" : "");
}

AutocastGuard::AutocastGuard(const torch::Device& device, bool enabled)
    : type_(device.type()), enabled_(enabled) {
  if (!enabled_) return;
  previous_ = autocast_enabled(type_);
  previous_dtype_ = autocast_dtype(type_);
  set_autocast(type_, true);
  set_autocast_dtype(type_, torch::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(type_, previous_);
  set_autocast_dtype(type_, previous_dtype_);
}

ResNetFeatures run_backbone(ResNetImpl& backbone, const torch::Tensor& images, const Precision& p) {
  const torch::Tensor x = p.channels_last ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  if (!p.bf16) return backbone.forward(x);
  ResNetFeatures f;
  {
    AutocastGuard autocast(images.device(), true);
    f = backbone.forward(x);
  }
  for (torch::Tensor* t : {&f.layer1, &f.layer2, &f.layer3, &f.layer4}) *t = t->to(torch::kFloat);
  return f;
}

void place(torch::nn::Module& net, const torch::Device& device, bool channels_last) {
  net.to(device);
  if (!channels_last) return;
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters(/*recurse=*/true)) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

void set_cudnn_benchmark(bool on) { at::globalContext().setBenchmarkCuDNN(on); }

}  // namespace c2am::model
