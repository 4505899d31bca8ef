// Implements: `c2am bench train`: images/s and peak device memory of the
// training step (train/step.h) of the configured network, over several batch
// sizes, on synthetic tensors or end to end from packed shards through the
// CPU loader; the end-to-end run also times how long each step waited for the
// loader, which says whether the loader keeps up. One process.
#pragma once
#include <string>
#include <vector>

#include "config/config.h"
#include "util/log.h"

namespace c2am::train {

struct BenchTrainOptions {
  std::vector<int> batches = {64, 128, 256};
  int size = 224;          // synthetic images: size x size
  int steps = 20;          // timed steps per batch size
  int warmup = 5;          // untimed steps first (cuDNN autotuning, allocator warm-up)
  bool from_data = false;  // end to end: cfg.data (packed shards) through the loader at the train transform
};

struct BenchTrainPoint {
  int batch = 0;
  double images_per_second = 0.0;
  double median_step_ms = 0.0;
  double peak_memory_mib = 0.0;  // device allocator (CUDA) or process peak RSS (CPU)
  double loader_wait_ms = 0.0;   // end to end: mean wait for the next batch per step
  bool ok = true;                // false: out of memory
  std::string error;
};

struct BenchTrainResult {
  std::string device;
  std::string description;  // network, precision, memory format, input
  std::vector<BenchTrainPoint> points;
};

BenchTrainResult bench_train(const config::Config& cfg, const BenchTrainOptions& options,
                             const util::Logger& log);

// The result as one JSON object (for docs/benchmarks.md and scripts).
std::string bench_train_json(const BenchTrainResult& r);

}  // namespace c2am::train
