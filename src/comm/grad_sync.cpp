#include "comm/grad_sync.h"

#include <fmt/core.h>

#include "util/error.h"

namespace c2am::comm {

GradSync::GradSync(Communicator& comm, const std::vector<std::pair<std::string, torch::Tensor>>& params,
                   double bucket_mb, double scale)
    : comm_(comm), scale_(scale) {
  const auto cap = static_cast<int64_t>(bucket_mb * 1024.0 * 1024.0);
  int64_t bucket_bytes = 0;
  std::vector<int> current;
  auto close_bucket = [&] {
    if (current.empty()) return;
    Bucket b;
    int64_t numel = 0;
    for (int s : current) {
      slots_[static_cast<size_t>(s)].bucket = static_cast<int>(buckets_.size());
      slots_[static_cast<size_t>(s)].offset = numel;
      numel += slots_[static_cast<size_t>(s)].param.numel();
    }
    const torch::Tensor& first = slots_[static_cast<size_t>(current.front())].param;
    b.flat = torch::zeros({numel}, first.options().requires_grad(false));
    b.slots = current;
    buckets_.push_back(std::move(b));
    current.clear();
    bucket_bytes = 0;
  };
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const torch::Tensor& p = it->second;
    if (!p.requires_grad()) continue;
    const int64_t bytes = p.numel() * p.element_size();
    if (!current.empty()) {
      const torch::Tensor& prev = slots_[static_cast<size_t>(current.back())].param;
      if (bucket_bytes + bytes > cap || prev.scalar_type() != p.scalar_type() || prev.device() != p.device()) {
        close_bucket();
      }
    }
    Slot slot;
    slot.name = it->first;
    slot.param = p;
    slots_.push_back(slot);
    current.push_back(static_cast<int>(slots_.size()) - 1);
    bucket_bytes += bytes;
  }
  close_bucket();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const int index = static_cast<int>(i);
    slots_[i].hook = slots_[i].param.register_hook([this, index](const torch::Tensor& grad) {
      on_grad(index, grad);
      return torch::Tensor();  // the gradient itself is left as it is
    });
  }
}

GradSync::~GradSync() {
  for (Slot& s : slots_) s.param.remove_hook(s.hook);
}

void GradSync::begin_step() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Slot& s : slots_) s.ready = false;
  for (Bucket& b : buckets_) {
    b.pending = static_cast<int>(b.slots.size());
    b.work.reset();
  }
  next_launch_ = 0;
  launched_early_ = 0;
  in_step_ = true;
}

void GradSync::on_grad(int index, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!in_step_) return;  // a backward outside a training step (e.g. a test's gradient check)
  Slot& s = slots_[static_cast<size_t>(index)];
  if (s.ready) {
    throw Error(fmt::format("gradient sync: parameter '{}' received a second gradient in one backward pass; "
                            "parameters used twice in forward are not supported",
                            s.name));
  }
  Bucket& b = buckets_[static_cast<size_t>(s.bucket)];
  torch::NoGradGuard no_grad;
  b.flat.narrow(0, s.offset, s.param.numel()).copy_(grad.reshape({-1}));
  s.ready = true;
  if (--b.pending == 0) launch_ready_locked();
}

void GradSync::launch_ready_locked() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_];
    b.work = comm_.allreduce_async(b.flat, ReduceOp::kSum);
    if (in_step_) ++launched_early_;
    ++next_launch_;
  }
}

void GradSync::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  in_step_ = false;
  // Parameters without a gradient on this rank contribute zeros.
  for (Slot& s : slots_) {
    if (s.ready) continue;
    Bucket& b = buckets_[static_cast<size_t>(s.bucket)];
    b.flat.narrow(0, s.offset, s.param.numel()).zero_();
    s.ready = true;
    --b.pending;
  }
  launch_ready_locked();
  lock.unlock();
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    b.work->wait();
    if (scale_ != 1.0) b.flat.mul_(scale_);
    for (int index : b.slots) {
      Slot& s = slots_[static_cast<size_t>(index)];
      const torch::Tensor summed = b.flat.narrow(0, s.offset, s.param.numel()).view_as(s.param);
      if (s.param.grad().defined()) {
        s.param.mutable_grad().copy_(summed);
      } else {
        s.param.mutable_grad() = summed.clone();
      }
    }
  }
}

}  // namespace c2am::comm
