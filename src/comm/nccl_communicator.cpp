// Implements: the NCCL backend of comm::Communicator (built only against a
// CUDA LibTorch with NCCL; see cmake/Dependencies.cmake). Rank 0 creates the
// NCCL unique id and broadcasts it over MPI (the control plane). Collectives
// run on the communicator's own stream: it first waits for an event recorded
// on the caller's current stream, and the caller's stream then waits for the
// collective's completion event, so the host never blocks on a collective.
// A watchdog thread polls outstanding collectives and NCCL's asynchronous
// error; a collective older than dist.timeout_s, or an error, aborts the NCCL
// communicator and ends the job naming the operation and the rank.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <fmt/core.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <thread>

#include "comm/communicator.h"
#include "comm/mpi_detail.h"
#include "util/error.h"

namespace c2am::comm {

namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return ncclFloat32;
    case torch::kDouble:
      return ncclFloat64;
    case torch::kHalf:
      return ncclFloat16;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kLong:
      return ncclInt64;
    case torch::kInt:
      return ncclInt32;
    case torch::kByte:
    case torch::kBool:
      return ncclUint8;
    default:
      throw Error(fmt::format("the NCCL backend does not carry {} tensors", c10::toString(t)));
  }
}

struct Pending {
  std::string what;
  std::shared_ptr<at::cuda::CUDAEvent> done;
  Clock::time_point start;
};

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<at::cuda::CUDAEvent> done, c10::DeviceIndex device)
      : done_(std::move(done)), device_(device) {}
  void wait() override { done_->block(c10::cuda::getCurrentCUDAStream(device_)); }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> done_;
  c10::DeviceIndex device_;
};

// A collective already complete (one staged through host-visible memory).
class FinishedWork : public Work {
 public:
  void wait() override {}
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(const Context& ctx, double timeout_s, int device)
      : rank_(ctx.rank),
        world_(ctx.world),
        mpi_(ctx.mpi),
        device_(static_cast<c10::DeviceIndex>(device)),
        timeout_(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000))),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_)) {
    c10::cuda::CUDAGuard guard(device_);
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    const int rc = mpi_ ? MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, world_comm()) : MPI_SUCCESS;
    if (rc != MPI_SUCCESS)
      throw Error(fmt::format("rank {}: broadcast of the NCCL id failed: {}", rank_, mpi_error_text(rc)));
    check(ncclCommInitRank(&comm_, world_, id, rank_), "ncclCommInitRank");
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclCommunicator() override {
    stop_ = true;
    watchdog_.join();
    if (broken_.empty()) {
      ncclCommDestroy(comm_);
    } else {
      ncclCommAbort(comm_);
    }
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  std::string backend() const override { return "nccl"; }

  std::shared_ptr<Work> allreduce_async(torch::Tensor tensor, ReduceOp op) override {
    if (!tensor.is_cuda()) {  // small control values (logged losses, counts): staged through the device
      torch::Tensor staged = tensor.to(torch::Device(torch::kCUDA, device_));
      allreduce_async(staged, op)->wait();
      tensor.copy_(staged);  // a device-to-host copy on the current stream: after the collective
      return std::make_shared<FinishedWork>();
    }
    TORCH_CHECK(tensor.is_contiguous(), "NCCL all-reduce needs a contiguous CUDA tensor");
    return launch("all-reduce", tensor, [&](cudaStream_t s) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                           nccl_type(tensor.scalar_type()), op == ReduceOp::kSum ? ncclSum : ncclMax, comm_,
                           s);
    });
  }

  torch::Tensor allgather(const torch::Tensor& tensor, std::vector<int64_t>* rows_per_rank) override {
    torch::Tensor in = tensor.contiguous();
    // Row counts over the control plane; NCCL gathers equal counts, so
    // shorter contributions are padded and cut out again.
    std::vector<int64_t> rows(static_cast<size_t>(world_));
    const int64_t mine = in.size(0);
    rows[0] = mine;
    const int rc =
        mpi_ ? MPI_Allgather(&mine, 1, MPI_INT64_T, rows.data(), 1, MPI_INT64_T, world_comm()) : MPI_SUCCESS;
    if (rc != MPI_SUCCESS)
      throw Error(fmt::format("rank {}: row-count exchange failed: {}", rank_, mpi_error_text(rc)));
    const int64_t most = *std::max_element(rows.begin(), rows.end());
    if (mine < most) {
      std::vector<int64_t> pad_shape = in.sizes().vec();
      pad_shape[0] = most - mine;
      in = torch::cat({in, torch::zeros(pad_shape, in.options())});
    }
    std::vector<int64_t> shape = in.sizes().vec();
    shape[0] = most * world_;
    torch::Tensor out = torch::empty(shape, in.options());
    launch("all-gather", out, [&](cudaStream_t s) {
      return ncclAllGather(in.data_ptr(), out.data_ptr(), static_cast<size_t>(in.numel()),
                           nccl_type(in.scalar_type()), comm_, s);
    })->wait();
    if (rows_per_rank) *rows_per_rank = rows;
    if (std::all_of(rows.begin(), rows.end(), [&](int64_t r) { return r == most; })) return out;
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < world_; ++r) parts.push_back(out.narrow(0, r * most, rows[static_cast<size_t>(r)]));
    return torch::cat(parts);
  }

  torch::Tensor reduce_scatter_rows(const torch::Tensor& tensor,
                                    const std::vector<int64_t>& rows_per_rank) override {
    // NCCL scatters equal blocks: pad every rank's block to the largest.
    const int64_t most = *std::max_element(rows_per_rank.begin(), rows_per_rank.end());
    torch::Tensor in = tensor.contiguous();
    if (std::any_of(rows_per_rank.begin(), rows_per_rank.end(), [&](int64_t r) { return r != most; })) {
      std::vector<torch::Tensor> blocks;
      int64_t offset = 0;
      for (int64_t r : rows_per_rank) {
        torch::Tensor b = in.narrow(0, offset, r);
        offset += r;
        if (r < most) {
          std::vector<int64_t> pad = b.sizes().vec();
          pad[0] = most - r;
          b = torch::cat({b, torch::zeros(pad, b.options())});
        }
        blocks.push_back(b);
      }
      in = torch::cat(blocks);
    }
    std::vector<int64_t> shape = in.sizes().vec();
    shape[0] = most;
    torch::Tensor out = torch::empty(shape, in.options());
    launch("reduce-scatter", in, [&](cudaStream_t s) {
      return ncclReduceScatter(in.data_ptr(), out.data_ptr(), static_cast<size_t>(out.numel()),
                               nccl_type(in.scalar_type()), ncclSum, comm_, s);
    })->wait();
    return out.narrow(0, 0, rows_per_rank[static_cast<size_t>(rank_)]);
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    if (!tensor.is_cuda()) {  // control values (resume counters, polarity): staged through the device
      torch::Tensor staged = tensor.to(torch::Device(torch::kCUDA, device_));
      broadcast(staged, root);
      tensor.copy_(staged);
      return;
    }
    torch::Tensor t = tensor.is_contiguous() ? tensor : tensor.contiguous();
    launch("broadcast", t, [&](cudaStream_t s) {
      return ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                           nccl_type(t.scalar_type()), root, comm_, s);
    })->wait();
    if (!t.is_same(tensor)) tensor.copy_(t);
  }

  void barrier() override {
    torch::Tensor t = torch::zeros({1}, torch::dtype(torch::kFloat).device(torch::kCUDA, device_));
    allreduce_async(t, ReduceOp::kSum)->wait();
    c10::cuda::getCurrentCUDAStream(device_).synchronize();
  }

  bool any(bool flag) override {
    int v = flag ? 1 : 0;
    const int rc = mpi_ ? MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, world_comm()) : MPI_SUCCESS;
    if (rc != MPI_SUCCESS)
      throw Error(fmt::format("rank {}: control all-reduce failed: {}", rank_, mpi_error_text(rc)));
    return v != 0;
  }

 private:
  void check(ncclResult_t r, const char* what) const {
    if (r != ncclSuccess) {
      throw Error(fmt::format("rank {}: NCCL {} failed: {}", rank_, what, ncclGetErrorString(r)));
    }
  }

  template <typename Op>
  std::shared_ptr<Work> launch(const char* name, const torch::Tensor& tensor, Op op) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!broken_.empty()) {
        throw Error(
            fmt::format("rank {}: NCCL {} refused after an earlier failure ({})", rank_, name, broken_));
      }
    }
    c10::cuda::CUDAGuard guard(device_);
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device_);
    at::cuda::CUDAEvent ready;
    ready.record(current);
    ready.block(stream_);  // after the work that produced the tensor
    c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
    check(op(stream_.stream()), name);
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(stream_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const double mib = static_cast<double>(tensor.numel() * tensor.element_size()) / (1024.0 * 1024.0);
      pending_.push_back({fmt::format("{} of {:.3g} MiB", name, mib), done, Clock::now()});
    }
    return std::make_shared<NcclWork>(done, device_);
  }

  void watch() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::string failure;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = pending_.begin(); it != pending_.end();) {
          if (it->done->query()) {
            it = pending_.erase(it);
          } else if (Clock::now() - it->start > timeout_) {
            failure = fmt::format(
                "rank {}: NCCL {} did not finish within {} s (dist.timeout_s): another rank has "
                "died, is stuck, or issued different collectives",
                rank_, it->what, std::chrono::duration_cast<std::chrono::seconds>(timeout_).count());
            break;
          } else {
            ++it;
          }
        }
        ncclResult_t async = ncclSuccess;
        if (failure.empty() && ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess) {
          failure = fmt::format("rank {}: NCCL reported an asynchronous error: {}", rank_,
                                ncclGetErrorString(async));
        }
        if (!failure.empty()) broken_ = failure;
      }
      if (!failure.empty()) {
        ncclCommAbort(comm_);
        fmt::print(stderr, "c2am: error on rank {}: {}\n", rank_, failure);
        abort_job(kExitFailure);
        return;
      }
    }
  }

  int rank_, world_;
  bool mpi_;  // false: one process without a launcher
  c10::DeviceIndex device_;
  std::chrono::milliseconds timeout_;
  c10::cuda::CUDAStream stream_;
  ncclComm_t comm_ = nullptr;
  std::mutex mutex_;
  std::list<Pending> pending_;
  std::string broken_;
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const Context& ctx, double timeout_s, int device) {
  return std::make_unique<NcclCommunicator>(ctx, timeout_s, device);
}

}  // namespace c2am::comm
