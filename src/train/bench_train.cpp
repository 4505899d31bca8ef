#include "train/bench_train.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "comm/communicator.h"
#include "comm/context.h"
#include "data/loader.h"
#include "model/precision.h"
#include "train/device_feed.h"
#include "train/device_stats.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/task.h"
#include "util/error.h"
#include "util/threads.h"

namespace c2am::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool is_out_of_memory(const std::exception& e) {
  return std::string(e.what()).find("out of memory") != std::string::npos;
}

// Feeds the step: the loader's batches (a new epoch when one runs dry), or
// the same synthetic batch; counts the time spent waiting for the loader.
class BenchInput {
 public:
  BenchInput(const config::Config& cfg, const BenchTrainOptions& o, Task& task, int batch, int threads,
             const torch::Device& device) {
    if (!o.from_data) {
      synthetic_.images = torch::randn({batch, 3, o.size, o.size},
                                       torch::TensorOptions(torch::kFloat).pinned_memory(device.is_cuda()));
      return;
    }
    data::LoaderOptions lo;
    lo.batch_per_rank = batch;
    lo.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
    lo.seed = cfg.train.seed;
    lo.uint8 = data::uint8_batches(cfg.data, device.is_cuda());
    task.configure_loader(lo);
    loader_ = std::make_unique<data::Loader>(data::open_split(cfg.data, "train"),
                                             data::train_transform(cfg.data), lo);
    if (loader_->batches_per_epoch() == 0) {
      throw UsageError(fmt::format("bench train: batch {} is larger than the {} training images", batch,
                                   loader_->samples().size()));
    }
    loader_->start_epoch(0);
  }
  data::Batch next() {
    if (!loader_) return synthetic_;
    const auto t = Clock::now();
    std::optional<data::Batch> b = loader_->next();
    if (!b) {
      loader_->start_epoch(++epoch_);
      b = loader_->next();
    }
    waited_ += seconds_since(t);
    return std::move(*b);
  }
  double waited() const { return waited_; }
  void reset_wait() { waited_ = 0.0; }

 private:
  std::unique_ptr<data::Loader> loader_;
  data::Batch synthetic_;
  std::int64_t epoch_ = 0;
  double waited_ = 0.0;
};

BenchTrainPoint measure(const config::Config& cfg, const BenchTrainOptions& o, int batch, int threads,
                        const torch::Device& device, const model::Precision& precision, comm::Communicator& comm,
                        const util::Logger& log) {
  BenchTrainPoint point;
  point.batch = batch;
  torch::manual_seed(cfg.train.seed);
  const std::unique_ptr<Task> task = make_task(cfg);
  task->network().set_precision(precision);
  torch::nn::Module& net = task->net();
  model::place(net, device, precision.channels_last);
  freeze_untrained(net, cfg.train);
  net.train();
  Sgd sgd(net, cfg.train, task->network().head_prefix());
  TrainStep step(*task, sgd, comm, nullptr);
  step.use_cuda_graphs(cfg, device, log);
  DeviceFeed feed(device, data::train_transform(cfg.data));
  BenchInput input(cfg, o, *task, batch, threads, device);
  feed.stage(input.next());
  auto one_step = [&](std::int64_t i) {
    std::optional<data::Batch> b = feed.take();
    feed.stage(input.next());
    step.run(*b, i, 1000000);
  };
  for (int i = 0; i < o.warmup; ++i) one_step(i);
  synchronize(device);
  reset_peak_memory(device);
  input.reset_wait();
  const auto t0 = Clock::now();
  for (int i = 0; i < o.steps; ++i) one_step(o.warmup + i);
  synchronize(device);
  const double total = seconds_since(t0);
  point.median_step_ms = 1000.0 * total / o.steps;
  point.images_per_second = static_cast<double>(batch) * o.steps / total;
  point.peak_memory_mib = peak_memory_mib(device);
  point.loader_wait_ms = 1000.0 * input.waited() / o.steps;
  return point;
}

}  // namespace

BenchTrainResult bench_train(const config::Config& cfg, const BenchTrainOptions& o, const util::Logger& log) {
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(threads);
  const torch::Device device = model::resolve_device(cfg.run.device, 0);
  const auto comm = comm::make_communicator(comm::Context{}, cfg.dist, device);  // one process
  if (device.is_cuda()) model::set_cudnn_benchmark(cfg.run.cudnn_benchmark);

  const model::Precision precision = model::resolve_precision(cfg.run, device);  // run.precision may be "auto"
  BenchTrainResult result;
  result.device = device.str();
  result.description =
      fmt::format("{} {} {}{}{}, {}", cfg.model.kind, cfg.model.arch, precision.bf16 ? "bf16" : "fp32",
                  precision.channels_last ? " channels_last" : "", cfg.run.cuda_graphs ? " cuda_graphs" : "",
                  o.from_data ? fmt::format("end to end from {} (train transform {} -> {})", cfg.data.root,
                                            cfg.data.train_resize, cfg.data.train_crop)
                              : fmt::format("synthetic {}x{} tensors", o.size, o.size));
  log.info("bench train: {} on {}", result.description, result.device);
  for (int batch : o.batches) {
    BenchTrainPoint point;
    try {
      point = measure(cfg, o, batch, threads, device, precision, *comm, log);
    } catch (const std::exception& e) {
      if (!is_out_of_memory(e)) throw;
      point.batch = batch;
      point.ok = false;
      point.error = "out of memory";
    }
    if (point.ok) {
      log.info(
          "  batch {:4d}: {:8.1f} images/s, {:7.1f} ms/step, peak memory {:.0f} MiB{}", batch,
          point.images_per_second, point.median_step_ms, point.peak_memory_mib,
          o.from_data ? fmt::format(", waited {:.1f} ms/step for the loader", point.loader_wait_ms) : "");
    } else {
      log.info("  batch {:4d}: {}", batch, point.error);
    }
    result.points.push_back(point);
  }
  return result;
}

std::string bench_train_json(const BenchTrainResult& r) {
  nlohmann::ordered_json j;
  j["device"] = r.device;
  j["description"] = r.description;
  j["points"] = nlohmann::json::array();
  for (const BenchTrainPoint& p : r.points) {
    nlohmann::ordered_json q;
    q["batch"] = p.batch;
    q["ok"] = p.ok;
    if (p.ok) {
      q["images_per_second"] = p.images_per_second;
      q["step_ms"] = p.median_step_ms;
      q["peak_memory_mib"] = p.peak_memory_mib;
      q["loader_wait_ms"] = p.loader_wait_ms;
    } else {
      q["error"] = p.error;
    }
    j["points"].push_back(q);
  }
  return j.dump();
}

}  // namespace c2am::train
