// Implements: the MPI backend of comm::Communicator. One worker thread owns
// every MPI call after bootstrap (MPI_THREAD_SERIALIZED), running the
// collectives in the order they were issued; callers get a Work to wait on
// with the job's timeout. CUDA or non-contiguous tensors are staged through a
// contiguous host copy and copied back in wait().
#include <fmt/core.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "comm/communicator.h"
#include "comm/mpi_detail.h"
#include "util/error.h"

namespace c2am::comm {

namespace {

MPI_Datatype mpi_type(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return MPI_FLOAT;
    case torch::kDouble: return MPI_DOUBLE;
    case torch::kLong: return MPI_INT64_T;
    case torch::kInt: return MPI_INT32_T;
    case torch::kByte: return MPI_UINT8_T;
    case torch::kBool: return MPI_UINT8_T;
    default:
      throw Error(fmt::format("the MPI backend does not carry {} tensors (float32, float64, int32, int64, uint8, "
                              "bool)",
                              c10::toString(t)));
  }
}

std::string describe(const torch::Tensor& t) {
  const double mib = static_cast<double>(t.numel() * t.element_size()) / (1024.0 * 1024.0);
  std::string shape;
  for (int64_t d : t.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(d);
  return fmt::format("{} {} ({:.3g} MiB)", shape.empty() ? "scalar" : shape, c10::toString(t.scalar_type()), mib);
}

int mpi_count(int64_t n, const std::string& what) {
  if (n > INT_MAX) throw Error(fmt::format("{}: {} elements are more than MPI's int count allows", what, n));
  return static_cast<int>(n);
}

// Shared between the communicator, its worker and its Works.
struct State {
  int rank = 0;
  int world = 1;
  std::chrono::milliseconds timeout{0};
  MPI_Comm comm = MPI_COMM_NULL;
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  bool stop = false;
  std::string broken;  // the first failure; set once, then every call throws

  void fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex);
    if (broken.empty()) broken = why;
  }
  std::string failure() {
    std::lock_guard<std::mutex> lock(mutex);
    return broken;
  }
};

class MpiWork : public Work {
 public:
  MpiWork(std::shared_ptr<State> state, std::string what, torch::Tensor target, torch::Tensor buffer)
      : state_(std::move(state)), what_(std::move(what)), target_(std::move(target)), buffer_(std::move(buffer)) {}

  const std::string& what() const { return what_; }
  torch::Tensor& buffer() { return buffer_; }

  // Worker side: the collective ended (error empty = success).
  void finish(std::string error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      error_ = std::move(error);
    }
    cv_.notify_all();
  }

  void wait() override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_for(lock, state_->timeout, [this] { return done_; })) {
      const std::string why = fmt::format(
          "rank {}: {} did not finish within {} s (dist.timeout_s): another rank has died, is stuck, or issued "
          "different collectives",
          state_->rank, what_, std::chrono::duration_cast<std::chrono::seconds>(state_->timeout).count());
      state_->fail(why);
      throw Error(why);
    }
    if (!error_.empty()) throw Error(error_);
    if (!buffer_.is_same(target_)) target_.copy_(buffer_);
  }

 private:
  std::shared_ptr<State> state_;
  std::string what_;
  torch::Tensor target_;
  torch::Tensor buffer_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string error_;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(const Context& ctx, double timeout_s) : state_(std::make_shared<State>()) {
    state_->rank = ctx.rank;
    state_->world = ctx.world;
    state_->timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000.0));
    state_->comm = world_comm();
    worker_ = std::thread([s = state_] { run_worker(*s); });
  }

  ~MpiCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stop = true;
    }
    state_->cv.notify_all();
    // A worker stuck in a collective (timed out, or abandoned because an
    // exception is unwinding this rank) cannot be joined; the process is
    // about to abort the job anyway (comm::end_process).
    if (state_->failure().empty() && std::uncaught_exceptions() == 0) {
      worker_.join();
    } else {
      worker_.detach();
    }
  }

  int rank() const override { return state_->rank; }
  int world() const override { return state_->world; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> allreduce_async(torch::Tensor tensor, ReduceOp op) override {
    auto work = make_work(fmt::format("all-reduce ({}) of {}", op == ReduceOp::kSum ? "sum" : "max",
                                      describe(tensor)),
                          tensor);
    const MPI_Op mop = op == ReduceOp::kSum ? MPI_SUM : MPI_MAX;
    enqueue(work, [work, mop](State& s) {
      torch::Tensor& b = work->buffer();
      return MPI_Allreduce(MPI_IN_PLACE, b.data_ptr(), mpi_count(b.numel(), work->what()),
                           mpi_type(b.scalar_type()), mop, s.comm);
    });
    return work;
  }

  torch::Tensor allgather(const torch::Tensor& tensor, std::vector<int64_t>* rows_per_rank) override {
    TORCH_CHECK(tensor.dim() >= 1, "allgather needs a tensor with a row dimension");
    // Owned jointly with the worker: a timed-out wait must not leave it
    // writing into this frame.
    struct Gather {
      torch::Tensor in, out;
      std::vector<int64_t> rows;
    };
    auto g = std::make_shared<Gather>();
    g->in = tensor.detach().to(torch::kCPU).contiguous();
    g->rows.resize(static_cast<size_t>(world()));
    auto work = make_work(fmt::format("all-gather of {}", describe(g->in)), g->in);
    enqueue(work, [g, work](State& s) {
      const int64_t my_rows = g->in.size(0);
      const int64_t row_numel = my_rows > 0 ? g->in.numel() / my_rows : 0;
      int rc = MPI_Allgather(&my_rows, 1, MPI_INT64_T, g->rows.data(), 1, MPI_INT64_T, s.comm);
      if (rc != MPI_SUCCESS) return rc;
      std::vector<int64_t> shape = g->in.sizes().vec();
      int64_t total = 0;
      for (int64_t r : g->rows) total += r;
      shape[0] = total;
      g->out = torch::empty(shape, g->in.options());
      const int64_t out_row_numel = total > 0 ? g->out.numel() / total : 0;
      if (my_rows > 0 && row_numel != out_row_numel) return MPI_ERR_COUNT;
      std::vector<int> counts(g->rows.size()), displs(g->rows.size());
      int64_t offset = 0;
      for (size_t r = 0; r < g->rows.size(); ++r) {
        counts[r] = mpi_count(g->rows[r] * out_row_numel, work->what());
        displs[r] = mpi_count(offset * out_row_numel, work->what());
        offset += g->rows[r];
      }
      const MPI_Datatype type = mpi_type(g->in.scalar_type());
      return MPI_Allgatherv(g->in.data_ptr(), counts[static_cast<size_t>(s.rank)], type, g->out.data_ptr(),
                            counts.data(), displs.data(), type, s.comm);
    });
    work->wait();
    if (rows_per_rank) *rows_per_rank = g->rows;
    return g->out.to(tensor.device());
  }

  torch::Tensor reduce_scatter_rows(const torch::Tensor& tensor, const std::vector<int64_t>& rows_per_rank) override {
    TORCH_CHECK(static_cast<int>(rows_per_rank.size()) == world(), "reduce_scatter_rows: one row count per rank");
    struct Scatter {
      torch::Tensor in, out;
      std::vector<int> counts;
    };
    auto g = std::make_shared<Scatter>();
    g->in = tensor.detach().to(torch::kCPU).contiguous();
    const int64_t row_numel = g->in.size(0) > 0 ? g->in.numel() / g->in.size(0) : 0;
    for (int64_t r : rows_per_rank) g->counts.push_back(mpi_count(r * row_numel, "reduce-scatter"));
    std::vector<int64_t> shape = g->in.sizes().vec();
    shape[0] = rows_per_rank[static_cast<size_t>(rank())];
    g->out = torch::empty(shape, g->in.options());
    auto work = make_work(fmt::format("reduce-scatter (sum) of {}", describe(g->in)), g->in);
    enqueue(work, [g](State& s) {
      return MPI_Reduce_scatter(g->in.data_ptr(), g->out.data_ptr(), g->counts.data(), mpi_type(g->in.scalar_type()),
                                MPI_SUM, s.comm);
    });
    work->wait();
    return g->out.to(tensor.device());
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    auto work = make_work(fmt::format("broadcast from rank {} of {}", root, describe(tensor)), tensor);
    enqueue(work, [work, root](State& s) {
      torch::Tensor& b = work->buffer();
      return MPI_Bcast(b.data_ptr(), mpi_count(b.numel(), work->what()), mpi_type(b.scalar_type()), root, s.comm);
    });
    work->wait();
  }

  void barrier() override {
    auto work = make_work("barrier", torch::Tensor());
    enqueue(work, [](State& s) { return MPI_Barrier(s.comm); });
    work->wait();
  }

  bool any(bool flag) override {
    torch::Tensor t = torch::tensor({flag ? 1 : 0}, torch::kInt32);
    auto work = make_work("control all-reduce (preemption flag)", t);
    enqueue(work, [work](State& s) {
      return MPI_Allreduce(MPI_IN_PLACE, work->buffer().data_ptr(), 1, MPI_INT32_T, MPI_MAX, s.comm);
    });
    work->wait();
    return t.item<int>() != 0;
  }

 private:
  std::shared_ptr<MpiWork> make_work(std::string what, const torch::Tensor& tensor) {
    const std::string failed = state_->failure();
    if (!failed.empty()) {
      throw Error(fmt::format("rank {}: {} refused: the communicator stopped after an earlier failure ({})",
                              state_->rank, what, failed));
    }
    torch::Tensor buffer = tensor;
    if (tensor.defined() && (!tensor.device().is_cpu() || !tensor.is_contiguous())) {
      buffer = tensor.detach().to(torch::kCPU).contiguous();  // staged through host memory
    }
    return std::make_shared<MpiWork>(state_, std::move(what), tensor, buffer);
  }

  void enqueue(const std::shared_ptr<MpiWork>& work, std::function<int(State&)> op) {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->queue.emplace_back([work, op = std::move(op), s = state_.get()] {
        std::string error;
        try {
          const int rc = op(*s);
          if (rc != MPI_SUCCESS) {
            error = fmt::format("rank {}: MPI {} failed: {}", s->rank, work->what(), mpi_error_text(rc));
          }
        } catch (const std::exception& e) {
          error = fmt::format("rank {}: {} failed: {}", s->rank, work->what(), e.what());
        }
        if (!error.empty()) s->fail(error);
        work->finish(error);
      });
    }
    state_->cv.notify_all();
  }

  static void run_worker(State& s) {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(s.mutex);
        s.cv.wait(lock, [&] { return s.stop || !s.queue.empty(); });
        if (s.queue.empty()) return;  // stop requested and nothing left
        job = std::move(s.queue.front());
        s.queue.pop_front();
      }
      job();
    }
  }

  std::shared_ptr<State> state_;
  std::thread worker_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const Context& ctx, double timeout_s) {
  if (!ctx.mpi) throw Error("the MPI communicator needs a job started by mpirun or srun --mpi=pmix");
  return std::make_unique<MpiCommunicator>(ctx, timeout_s);
}

}  // namespace c2am::comm
