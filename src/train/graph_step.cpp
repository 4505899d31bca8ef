// Implements: graph_step.h for LibTorch builds without CUDA: there is
// nothing to capture, so the trainer always keeps the eager step.
#include "train/graph_step.h"

#include <fmt/format.h>
#include <torch/version.h>

#include "util/error.h"

namespace c2am::train {

std::string graph_capture_obstacle(const config::Config&, const torch::Device&, const comm::Communicator&) {
  return fmt::format("this build of c2am uses a LibTorch without CUDA ({}), so there is no CUDA graph to capture",
                     TORCH_VERSION);
}

std::unique_ptr<GraphStep> make_graph_step(ForwardBackward, Sgd&, const torch::Device&, const util::Logger&) {
  throw Error("CUDA graphs need a CUDA build of LibTorch (see docs/gpu.md)");
}

}  // namespace c2am::train
