// Implements: the NCCL backend of comm::Communicator (built only against a
// CUDA LibTorch with NCCL; see cmake/Dependencies.cmake). Rank 0 creates the
// NCCL unique id and broadcasts it over MPI (the control plane). Collectives
// run on the communicator's own stream: it first waits for an event recorded
// on the caller's current stream, and the caller's stream then waits for the
// collective's completion event, so the host never blocks on a collective.
// A watchdog thread (on this rank's GPU) polls outstanding collectives and
// NCCL's asynchronous error; a collective older than dist.timeout_s, or an
// error, aborts the NCCL communicator (once: the handle is taken under the
// lock) and ends the job naming the operation and the rank.
// The communicator is non-blocking (ncclCommInitRankConfig, blocking = 0):
// setup returns at once and is polled against dist.timeout_s, so a rank that
// dies before joining ends the job with a message instead of a hang; every
// later NCCL call may answer ncclInProgress and is polled the same way.
// CPU tensors (control values, the evaluation's byte masks) are staged
// through the device. Collectives issued while the caller's stream is being
// captured into a CUDA graph (train/graph_step.h) are recorded into it and
// not watched (their events belong to the graph).
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
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
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // returns at once; readiness is polled against dist.timeout_s below
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const ncclResult_t r = ncclCommInitRankConfig(&comm_, world_, id, rank_, &config);
      if (r != ncclSuccess && r != ncclInProgress) {
        fail_locked(fmt::format("NCCL communicator setup (ncclCommInitRankConfig, {} ranks) failed: {}", world_,
                                ncclGetErrorString(r)));
      }
      settle_locked(fmt::format("communicator setup ({} ranks joining)", world_));
    }
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclCommunicator() override {
    stop_ = true;
    if (watchdog_.joinable()) watchdog_.join();
    ncclComm_t comm = nullptr;
    bool healthy = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      comm = comm_;
      comm_ = nullptr;  // the watchdog may have aborted it already: then there is nothing left to free
      healthy = broken_.empty();
    }
    if (comm == nullptr) return;
    c10::cuda::CUDAGuard guard(device_);
    if (healthy && finalized(comm)) {
      ncclCommDestroy(comm);
    } else {
      ncclCommAbort(comm);
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
    if (!tensor.is_cuda()) {  // e.g. the evaluation hook's byte masks: staged through the device
      // The copy back waits on the current stream, which waited for the gather.
      return allgather(tensor.to(torch::Device(torch::kCUDA, device_)), rows_per_rank).to(tensor.device());
    }
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
    if (!tensor.is_cuda()) {  // staged through the device, as allgather
      return reduce_scatter_rows(tensor.to(torch::Device(torch::kCUDA, device_)), rows_per_rank).to(tensor.device());
    }
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

  // Marks the communicator broken, aborts it (once: the handle is cleared
  // under the lock) and throws naming this rank. Call with mutex_ held.
  [[noreturn]] void fail_locked(const std::string& why) {
    broken_ = fmt::format("rank {}: {}", rank_, why);
    if (comm_ != nullptr) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
    }
    throw Error(broken_);
  }

  // A non-blocking communicator answers ncclInProgress until NCCL has
  // finished the last call (setup: every rank joined; a collective: enqueued
  // on its stream). Polls its state until then; an error, or no answer
  // within dist.timeout_s, aborts it and throws naming `what` and the rank.
  // Call with mutex_ held.
  void settle_locked(const std::string& what) {
    const Clock::time_point deadline = Clock::now() + timeout_;
    for (int polls = 0;; ++polls) {
      ncclResult_t state = ncclSuccess;
      const ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
      if (r != ncclSuccess) state = r;
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) fail_locked(fmt::format("NCCL {} failed: {}", what, ncclGetErrorString(state)));
      if (Clock::now() > deadline) {
        fail_locked(fmt::format(
            "NCCL {} did not complete within {} s (dist.timeout_s): another rank has died or is stuck before "
            "joining, or the ranks cannot reach each other (NCCL_DEBUG=INFO and NCCL_SOCKET_IFNAME help find "
            "out)",
            what, std::chrono::duration_cast<std::chrono::seconds>(timeout_).count()));
      }
      if (polls < 1000) {
        std::this_thread::yield();  // a collective's enqueue: microseconds
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // setup: seconds
      }
    }
  }

  // Shuts a healthy communicator down (ncclCommFinalize, polled); false when
  // that fails or times out (the caller aborts it instead).
  bool finalized(ncclComm_t comm) const {
    ncclResult_t r = ncclCommFinalize(comm);
    const Clock::time_point deadline = Clock::now() + timeout_;
    while (r == ncclInProgress && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (ncclCommGetAsyncError(comm, &r) != ncclSuccess) return false;
    }
    return r == ncclSuccess;
  }

  template <typename Op>
  std::shared_ptr<Work> launch(const char* name, const torch::Tensor& tensor, Op op) {
    c10::cuda::CUDAGuard guard(device_);
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device_);
    // Inside a CUDA graph capture the collective becomes part of the graph.
    const bool capturing =
        c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None;
    // Held across the NCCL call, so the watchdog cannot abort (free) the
    // communicator between the check and the call.
    std::lock_guard<std::mutex> lock(mutex_);
    if (!broken_.empty() || comm_ == nullptr) {
      throw Error(fmt::format("rank {}: NCCL {} refused after an earlier failure ({})", rank_, name, broken_));
    }
    at::cuda::CUDAEvent ready;
    ready.record(current);
    ready.block(stream_);  // after the work that produced the tensor
    c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
    const ncclResult_t r = op(stream_.stream());
    if (r == ncclInProgress) {
      settle_locked(name);
    } else if (r != ncclSuccess) {
      fail_locked(fmt::format("NCCL {} failed: {}", name, ncclGetErrorString(r)));
    }
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(stream_);
    if (!capturing) {  // a captured event cannot be queried; the graph's replays are not watched
      const double mib = static_cast<double>(tensor.numel() * tensor.element_size()) / (1024.0 * 1024.0);
      pending_.push_back({fmt::format("{} of {:.3g} MiB", name, mib), done, Clock::now()});
    }
    return std::make_shared<NcclWork>(done, device_);
  }

  // The first failure among the watched collectives, or "". Call with mutex_ held.
  std::string check_pending_locked() {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->done->query()) {
        it = pending_.erase(it);
      } else if (Clock::now() - it->start > timeout_) {
        return fmt::format(
            "rank {}: NCCL {} did not finish within {} s (dist.timeout_s): another rank has died, is stuck, or "
            "issued different collectives",
            rank_, it->what, std::chrono::duration_cast<std::chrono::seconds>(timeout_).count());
      } else {
        ++it;
      }
    }
    ncclResult_t async = ncclSuccess;
    if (comm_ != nullptr && ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess &&
        async != ncclInProgress) {  // in progress: a call of the (non-blocking) communicator still enqueueing
      return fmt::format("rank {}: NCCL reported an asynchronous error: {}", rank_, ncclGetErrorString(async));
    }
    return "";
  }

  void watch() {
    std::string failure;
    try {
      // Event queries on this rank's GPU: without the guard the thread would
      // create a context on GPU 0.
      const c10::cuda::CUDAGuard on_device(device_);
      while (!stop_ && failure.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::lock_guard<std::mutex> lock(mutex_);
        failure = check_pending_locked();
      }
    } catch (const std::exception& e) {  // a CUDA error from an event query: report it, not std::terminate
      failure = fmt::format("rank {}: the NCCL watchdog failed: {}", rank_, e.what());
    }
    if (failure.empty()) return;
    ncclComm_t comm = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      broken_ = failure;
      comm = comm_;
      comm_ = nullptr;  // aborted here, never again by the destructor
    }
    if (comm != nullptr) ncclCommAbort(comm);
    fmt::print(stderr, "c2am: error on rank {}: {}\n", rank_, failure);
    abort_job(kExitFailure);
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
