#include "train/device_stats.h"

#include <sys/resource.h>

namespace c2am::train {

void reset_peak_memory(const torch::Device&) {}

double peak_memory_mib(const torch::Device&) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void synchronize(const torch::Device&) {}

}  // namespace c2am::train
