// Implements: the data plane between ranks. One Communicator per job, chosen
// once from dist.backend: NCCL for CUDA tensors (built when NCCL is found),
// MPI for CPU tensors (CUDA tensors staged through host memory), and a local
// one for a single process. Every rank issues the same collectives in the same
// order; operations run in that order on one worker (MPI) or one stream
// (NCCL), so asynchronous all-reduces overlap with computation. A failure or
// a collective slower than dist.timeout_s throws an Error naming the
// operation and the rank, and the communicator refuses further work.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "comm/context.h"

namespace c2am::comm {

enum class ReduceOp { kSum, kMax };

// A pending collective. wait() returns when it finished (and, for a staged
// CUDA tensor, the result is back in the tensor); it throws on failure or
// timeout.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual std::string backend() const = 0;

  // In-place all-reduce of a contiguous tensor; returns at once.
  virtual std::shared_ptr<Work> allreduce_async(torch::Tensor tensor, ReduceOp op) = 0;
  // All ranks' tensors concatenated along dim 0 in rank order. Ranks may
  // contribute different numbers of rows (other dims equal); rows_per_rank,
  // if given, receives them.
  virtual torch::Tensor allgather(const torch::Tensor& tensor, std::vector<int64_t>* rows_per_rank = nullptr) = 0;
  // The sum over ranks of `tensor` (N x ..., the same shape on every rank),
  // of which this rank receives only its rows: rows_per_rank[r] rows per rank
  // in rank order (the inverse of allgather's layout). Half the traffic of an
  // all-reduce followed by a slice.
  virtual torch::Tensor reduce_scatter_rows(const torch::Tensor& tensor, const std::vector<int64_t>& rows_per_rank) = 0;
  // In place: every rank gets root's tensor (same shape and dtype everywhere).
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  virtual void barrier() = 0;
  // True on every rank when `flag` is true on any rank (control plane).
  virtual bool any(bool flag) = 0;

  void allreduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::kSum) { allreduce_async(tensor, op)->wait(); }
};

// The communicator for `ctx` and `cfg` ("auto": NCCL if `device` is CUDA and
// NCCL was built in, otherwise MPI; one process: local).
std::unique_ptr<Communicator> make_communicator(const Context& ctx, const config::DistConfig& cfg,
                                                const torch::Device& device);

// The MPI communicator over the job's world (tests use it directly).
std::unique_ptr<Communicator> make_mpi_communicator(const Context& ctx, double timeout_s);

// True when this build has the NCCL backend.
bool nccl_available();

// Broadcasts every parameter and buffer of `module` from `root` (start of
// training and after a resume).
void broadcast_module(Communicator& comm, torch::nn::Module& module, int root = 0);

// Broadcasts a small integer vector from `root`.
std::vector<int64_t> broadcast_values(Communicator& comm, std::vector<int64_t> values, int root = 0);

}  // namespace c2am::comm
