// Implements: graph_step.h for CUDA builds of LibTorch. The pattern of
// PyTorch's whole-network capture (docs "CUDA Graphs", torch.cuda.graph):
// warm-up iterations on a side stream, capture on that stream (CUDA graphs
// cannot be captured on the default stream) with its own memory pool,
// replays on the compute stream; inputs through static buffers; gradients
// left allocated from the graph's pool (zero_grad sets them to None during
// the capture only, so backward allocates them there); the learning rate
// read from device tensors. The autocast cast cache is off during capture
// (as make_graphed_callables requires), so no cast outlives the graph.
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>

#include "train/graph_step.h"
#include "util/error.h"

namespace c2am::train {

namespace {

// Eager steps before the capture: cuDNN autotuning, the first (allocating)
// momentum step, lazily created NCCL channels; PyTorch's examples use 3.
constexpr int kWarmupSteps = 3;

// `b` waits for the work queued so far on `a` (the host does not wait).
void order_after(const c10::cuda::CUDAStream& a, const c10::cuda::CUDAStream& b) {
  at::cuda::CUDAEvent e;
  e.record(a);
  e.block(b);
}

std::string shape_text(const torch::Tensor& t) {
  return t.defined() ? fmt::format("{}", fmt::join(t.sizes(), "x")) : std::string("none");
}

class CudaGraphStep : public GraphStep {
 public:
  CudaGraphStep(ForwardBackward forward_backward, Sgd& sgd, const torch::Device& device, const util::Logger& log)
      : forward_backward_(std::move(forward_backward)),
        sgd_(sgd),
        device_(device),
        side_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())),
        log_(log) {}

  StepLoss run(const data::Batch& batch, std::int64_t step, std::int64_t max_steps) override {
    const c10::cuda::CUDAGuard on_device(device_);
    if (!fits(batch)) return eager(batch, step, max_steps);
    stage(batch);
    sgd_.set_lr_tensors(step, max_steps);
    if (graph_) {
      graph_->replay();
      return copy_of(outputs_);
    }
    const c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream(device_.index());
    order_after(compute, side_);  // the inputs and learning rates are written on the compute stream
    StepLoss out;
    {
      const c10::cuda::CUDAStreamGuard on_side(side_);
      if (warmed_up_ < kWarmupSteps) {
        out = forward_backward_(static_);
        sgd_.step_with_lr_tensors();
        ++warmed_up_;
      } else {
        capture();
      }
    }
    order_after(side_, compute);
    if (graph_) {  // a capture records the step without running it: run it now
      log_.info("run.cuda_graphs: the training step is captured (after {} eager warm-up steps) and replayed from "
                "step {} on",
                kWarmupSteps, step);
      graph_->replay();
      return copy_of(outputs_);
    }
    for (const torch::Tensor* t : tensors_of(out)) t->record_stream(compute);  // made on the side stream
    return out;
  }

 private:
  static std::vector<const torch::Tensor*> tensors_of(const StepLoss& l) {
    std::vector<const torch::Tensor*> ts = {&l.total};
    for (const torch::Tensor& t : l.terms) ts.push_back(&t);
    if (l.map.defined()) ts.push_back(&l.map);
    return ts;
  }

  // The graph's outputs, copied (the next replay overwrites them).
  static StepLoss copy_of(const StepLoss& l) {
    StepLoss out;
    out.total = l.total.detach().clone();
    for (const torch::Tensor& t : l.terms) out.terms.push_back(t.detach().clone());
    if (l.map.defined()) out.map = l.map.detach().clone();
    return out;
  }

  // Whether `b` has the static buffers' shapes (always, with the loader's
  // fixed batches; the buffers do not exist before the first step).
  bool fits(const data::Batch& b) const {
    if (!static_.images.defined()) return true;
    return b.images.sizes() == static_.images.sizes() && b.images.scalar_type() == static_.images.scalar_type() &&
           b.targets.defined() == static_.targets.defined() &&
           (!b.targets.defined() ||
            (b.targets.sizes() == static_.targets.sizes() && b.targets.scalar_type() == static_.targets.scalar_type()));
  }

  // A batch of another shape cannot go through the graph: one eager step
  // (the graph and its buffers stay valid for later batches).
  StepLoss eager(const data::Batch& batch, std::int64_t step, std::int64_t max_steps) {
    if (!warned_shape_) {
      log_.warn("run.cuda_graphs: a batch of {} images (targets {}) differs from the captured {} (targets {}); such "
                "batches run eagerly",
                shape_text(batch.images), shape_text(batch.targets), shape_text(static_.images),
                shape_text(static_.targets));
      warned_shape_ = true;
    }
    StepLoss loss = forward_backward_(batch);
    sgd_.step(step, max_steps);
    return loss;
  }

  // The device feed's batch into the static input buffers (a device-to-device
  // copy on the compute stream, after the feed's copy event).
  void stage(const data::Batch& b) {
    if (!static_.images.defined()) {
      static_.images = torch::empty_like(b.images, b.images.options().device(device_));
      if (b.targets.defined()) static_.targets = torch::empty_like(b.targets, b.targets.options().device(device_));
    }
    static_.images.copy_(b.images, /*non_blocking=*/true);
    if (b.targets.defined()) static_.targets.copy_(b.targets, /*non_blocking=*/true);
    static_.sample_ids = b.sample_ids;
  }

  void capture() {
    torch::cuda::synchronize(device_.index());  // warm-up finished, as torch.cuda.graph does before capturing
    const bool cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      graph->capture_begin();
      StepLoss out = forward_backward_(static_);
      sgd_.step_with_lr_tensors();
      graph->capture_end();
      outputs_ = std::move(out);
    } catch (const std::exception& e) {
      at::autocast::set_autocast_cache_enabled(cache);
      end_failed_capture();
      throw Error(fmt::format(
          "run.cuda_graphs: capturing the training step failed: {}\nSomething in the step synchronises with "
          "the host or allocates outside PyTorch's allocator; set run.cuda_graphs = false (docs/gpu.md lists "
          "what can be captured)",
          e.what()));
    }
    at::autocast::set_autocast_cache_enabled(cache);
    graph_ = std::move(graph);
  }

  // Leaves the side stream usable after a capture that threw midway.
  void end_failed_capture() {
    if (c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None) return;
    cudaGraph_t partial = nullptr;
    if (cudaStreamEndCapture(side_.stream(), &partial) == cudaSuccess && partial != nullptr) {
      cudaGraphDestroy(partial);
    }
    (void)cudaGetLastError();  // clear the capture error
  }

  ForwardBackward forward_backward_;
  Sgd& sgd_;
  torch::Device device_;
  c10::cuda::CUDAStream side_;
  const util::Logger& log_;
  data::Batch static_;  // the graph's inputs
  StepLoss outputs_;    // the graph's outputs
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  int warmed_up_ = 0;
  bool warned_shape_ = false;
};

}  // namespace

std::string graph_capture_obstacle(const config::Config& cfg, const torch::Device& device,
                                   const comm::Communicator& comm) {
  if (!device.is_cuda()) return fmt::format("the training device is {} (run.device), not a CUDA device", device.str());
  if (comm.world() > 1 && comm.backend() != "nccl") {
    return fmt::format(
        "the {} backend carries the gradients through host memory, which a graph cannot replay "
        "(dist.backend = \"nccl\" or \"auto\" with one GPU per rank can)",
        comm.backend());
  }
  if (comm.world() > 1 && cfg.dist.sync_batchnorm != "none") {
    return fmt::format(
        "dist.sync_batchnorm = \"{}\": SyncBatchNorm reads the global sample count on the host (.item()) in "
        "every forward",
        cfg.dist.sync_batchnorm);
  }
  return "";
}

std::unique_ptr<GraphStep> make_graph_step(ForwardBackward forward_backward, Sgd& sgd, const torch::Device& device,
                                           const util::Logger& log) {
  TORCH_CHECK(device.is_cuda() && device.has_index(), "make_graph_step needs a CUDA device with an index");
  sgd.ensure_momentum_buffers();  // a buffer first created inside the graph would be re-created at each replay
  return std::make_unique<CudaGraphStep>(std::move(forward_backward), sgd, device, log);
}

}  // namespace c2am::train
