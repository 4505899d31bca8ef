// Implements: gradient synchronisation in buckets, overlapped with backward.
// Parameters that need gradients are packed, in reverse registration order
// (roughly the order backward produces their gradients), into flat buckets of
// at most dist.bucket_mb. A hook on each parameter copies its gradient into
// its bucket as soon as autograd computes it; a full bucket is all-reduced
// asynchronously while backward goes on. Buckets are launched strictly in
// bucket order, so every rank issues the same collectives in the same order.
// finish() waits for all of them and writes scale * sum over ranks into .grad.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace c2am::comm {

class GradSync {
 public:
  // `params`: name -> tensor, as named_parameters() gives them. `scale`
  // multiplies the summed gradient (1 for a loss that is already a sum over
  // ranks, 1/world for averaging).
  GradSync(Communicator& comm, const std::vector<std::pair<std::string, torch::Tensor>>& params, double bucket_mb,
           double scale = 1.0);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Call before backward.
  void begin_step();
  // Call after backward: launches what is left, waits, writes .grad.
  void finish();

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Buckets whose all-reduce started before finish() was called in the last
  // step (overlapped with backward).
  int launched_during_backward() const { return launched_early_; }

 private:
  struct Slot {
    std::string name;
    torch::Tensor param;
    int bucket = 0;
    int64_t offset = 0;
    bool ready = false;
    unsigned hook = 0;
  };
  struct Bucket {
    torch::Tensor flat;
    std::vector<int> slots;
    int pending = 0;
    std::shared_ptr<Work> work;
  };

  void on_grad(int slot, const torch::Tensor& grad);
  void launch_ready_locked();

  Communicator& comm_;
  double scale_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::mutex mutex_;
  size_t next_launch_ = 0;
  bool in_step_ = false;
  int launched_early_ = 0;
};

}  // namespace c2am::comm
