#include "comm/communicator.h"

#include <fmt/core.h>

#include "util/error.h"
#include "util/log.h"

namespace c2am::comm {

#ifdef C2AM_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(const Context& ctx, double timeout_s, int device);
#endif

namespace {

class DoneWork : public Work {
 public:
  void wait() override {}
};

// One process: every collective is the identity.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world() const override { return 1; }
  std::string backend() const override { return "local"; }
  std::shared_ptr<Work> allreduce_async(torch::Tensor, ReduceOp) override { return std::make_shared<DoneWork>(); }
  torch::Tensor allgather(const torch::Tensor& tensor, std::vector<int64_t>* rows_per_rank) override {
    if (rows_per_rank) *rows_per_rank = {tensor.size(0)};
    return tensor;
  }
  torch::Tensor reduce_scatter_rows(const torch::Tensor& tensor, const std::vector<int64_t>&) override {
    return tensor;
  }
  void broadcast(torch::Tensor&, int) override {}
  void barrier() override {}
  bool any(bool flag) override { return flag; }
};

}  // namespace

bool nccl_available() {
#ifdef C2AM_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Communicator> make_communicator(const Context& ctx, const config::DistConfig& cfg,
                                                const torch::Device& device) {
  // NCCL wants one GPU per rank: with more ranks on a node than GPUs, two
  // ranks share one and NCCL fails ("Duplicate GPU"); MPI stages through host memory instead.
  const int gpus = device.is_cuda() ? static_cast<int>(torch::cuda::device_count()) : 0;
  const bool shared_gpus = device.is_cuda() && ctx.local_world > gpus;
  bool want_nccl = cfg.backend == "nccl" || (cfg.backend == "auto" && device.is_cuda() && nccl_available());
  if (want_nccl && cfg.backend == "auto" && shared_gpus) {
    util::Logger(ctx.rank, ctx.world)
        .info("dist.backend = \"auto\": {} ranks on this node share {} visible CUDA device{}, which NCCL "
              "refuses; using the MPI backend (CUDA tensors staged through host memory)",
              ctx.local_world, gpus, gpus == 1 ? "" : "s");
    want_nccl = false;
  }
  if (want_nccl) {
    if (!nccl_available()) {
      throw UsageError("dist.backend = \"nccl\" but this build of c2am has no NCCL (see docs/gpu.md); use "
                       "\"mpi\" or \"auto\"");
    }
    if (!device.is_cuda()) throw UsageError("dist.backend = \"nccl\" needs training on a CUDA device");
    if (shared_gpus) {
      throw UsageError(fmt::format(
          "dist.backend = \"nccl\" needs one CUDA device per rank, but {} ranks on {} share {} visible "
          "device{}; start fewer ranks per node or use \"auto\" / \"mpi\"",
          ctx.local_world, ctx.host, gpus, gpus == 1 ? "" : "s"));
    }
#ifdef C2AM_HAVE_NCCL
    return make_nccl_communicator(ctx, cfg.timeout_s, device.has_index() ? device.index() : ctx.local_rank);
#endif
  }
  if (!ctx.mpi) return std::make_unique<LocalCommunicator>();
  return make_mpi_communicator(ctx, cfg.timeout_s);
}

void broadcast_module(Communicator& comm, torch::nn::Module& module, int root) {
  if (comm.world() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters(/*recurse=*/true)) {
    torch::Tensor t = p.value();
    comm.broadcast(t, root);
  }
  for (auto& b : module.named_buffers(/*recurse=*/true)) {
    torch::Tensor t = b.value();
    comm.broadcast(t, root);
  }
}

std::vector<int64_t> broadcast_values(Communicator& comm, std::vector<int64_t> values, int root) {
  if (comm.world() == 1) return values;
  torch::Tensor t = torch::tensor(values, torch::kInt64);
  comm.broadcast(t, root);
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

}  // namespace c2am::comm
