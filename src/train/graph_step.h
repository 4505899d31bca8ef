// Implements: run.cuda_graphs: the whole training step (forward, losses,
// backward with the bucketed gradient all-reduce, the SGD update) captured
// once into a CUDA graph and replayed, as PyTorch's whole-network capture
// (torch.cuda.graph) does. The first steps run eagerly on a side stream
// (warm-up: cuDNN autotuning, momentum buffers, NCCL connections), the next
// one is captured and replayed, and every later step is a copy of the batch
// into the graph's static input buffers, the learning rates written into
// device tensors (Sgd::set_lr_tensors) and one replay. Where capture is
// impossible, graph_capture_obstacle() says why and the trainer keeps the
// eager step. graph_step_cuda.cpp is the CUDA build, graph_step.cpp the CPU
// twin (which only explains that this LibTorch has no CUDA).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "data/loader.h"
#include "comm/communicator.h"
#include "train/optimizer.h"
#include "train/task.h"
#include "util/log.h"

namespace c2am::train {

// One step without the update: forward and losses of the batch, gradients
// zeroed, backward and the gradient sync (train/step.cpp).
using ForwardBackward = std::function<StepLoss(const data::Batch&)>;

class GraphStep {
 public:
  virtual ~GraphStep() = default;
  // The step of `step` out of `max_steps` on `batch` (already on the
  // device). The returned tensors are the caller's (copies of the graph's
  // outputs, which the next replay overwrites).
  virtual StepLoss run(const data::Batch& batch, std::int64_t step, std::int64_t max_steps) = 0;
};

// Why the training step cannot be captured here, or "" when it can: a CPU
// device or a LibTorch without CUDA, the MPI backend with several ranks (it
// stages CUDA tensors through host memory), SyncBatchNorm with several ranks
// (it reads the global sample count on the host in every forward).
std::string graph_capture_obstacle(const config::Config& cfg, const torch::Device& device,
                                   const comm::Communicator& comm);

// The graphed step; only where graph_capture_obstacle() is "".
std::unique_ptr<GraphStep> make_graph_step(ForwardBackward forward_backward, Sgd& sgd, const torch::Device& device,
                                           const util::Logger& log);

}  // namespace c2am::train
