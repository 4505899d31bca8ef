// Implements: peak memory of a device for benchmarks: on CUDA the caching
// allocator's peak of allocated bytes (reset between measurements); on the
// CPU the process's peak resident set (getrusage; it cannot be reset, so it
// only grows). device_stats.cpp is the CPU build, device_stats_cuda.cpp the
// CUDA one; CMake compiles the one that matches LibTorch.
#pragma once
#include <torch/torch.h>

namespace c2am::train {

void reset_peak_memory(const torch::Device& device);
// MiB.
double peak_memory_mib(const torch::Device& device);
// Waits for the device's queued work (timing); a no-op on the CPU.
void synchronize(const torch::Device& device);

}  // namespace c2am::train
