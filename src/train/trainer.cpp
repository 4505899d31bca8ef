#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoint/trained.h"
#include "comm/autograd_ops.h"
#include "comm/communicator.h"
#include "comm/grad_sync.h"
#include "comm/preempt.h"
#include "data/loader.h"
#include "model/network.h"
#include "model/precision.h"
#include "train/device_feed.h"
#include "train/device_stats.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/sync_batchnorm.h"
#include "train/task.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t as_signed(uint64_t v) {
  int64_t s;
  std::memcpy(&s, &v, sizeof(s));
  return s;
}

uint64_t as_unsigned(int64_t v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof(u));
  return u;
}

// The settings a resumed run must share with its checkpoint.
void check_resumable(const checkpoint::Checkpoint& ckpt, const config::Config& cfg, const std::string& path) {
  const config::Config saved = config::load_from_string(ckpt.config_toml, path + " (saved config)");
  if (saved.model.kind != cfg.model.kind) {
    throw UsageError(fmt::format("cannot resume from '{}': it trained model.kind = {} but the config says {}",
                                 path, saved.model.kind, cfg.model.kind));
  }
  if (ckpt.arch != cfg.model.arch) {
    throw UsageError(
        fmt::format("cannot resume from '{}': it was trained with model.arch = {} but the config says {}",
                    path, ckpt.arch, cfg.model.arch));
  }
  if (saved.model.strides != cfg.model.strides || saved.train.batch_size != cfg.train.batch_size ||
      saved.train.seed != cfg.train.seed || saved.data.train_crop != cfg.data.train_crop) {
    throw UsageError(
        fmt::format("cannot resume from '{}': model.strides, train.batch_size, train.seed and "
                    "data.train_crop must match the checkpoint's config",
                    path));
  }
}

void restore_momentum(const checkpoint::Checkpoint& ckpt, Sgd& sgd) {
  for (ParamGroup& g : sgd.groups()) {
    for (size_t i = 0; i < g.names.size(); ++i) {
      const auto it = ckpt.momentum.find(g.names[i]);
      if (it != ckpt.momentum.end()) {
        g.momentum[i] = it->second.to(g.params[i].options(), /*non_blocking=*/false, /*copy=*/true);
      }
    }
  }
}

// Rank 0's momentum buffers on every rank (after a resume on rank 0).
void broadcast_momentum(comm::Communicator& comm, Sgd& sgd) {
  if (comm.world() == 1) return;
  std::vector<int64_t> defined;
  for (const ParamGroup& g : sgd.groups())
    for (const torch::Tensor& m : g.momentum) defined.push_back(m.defined() ? 1 : 0);
  defined = comm::broadcast_values(comm, defined);
  size_t k = 0;
  for (ParamGroup& g : sgd.groups()) {
    for (size_t i = 0; i < g.momentum.size(); ++i, ++k) {
      if (!defined[k]) {
        g.momentum[i] = torch::Tensor();
        continue;
      }
      if (!g.momentum[i].defined()) g.momentum[i] = torch::zeros_like(g.params[i]);
      comm.broadcast(g.momentum[i], 0);
    }
  }
}

checkpoint::Progress broadcast_progress(comm::Communicator& comm, const checkpoint::Progress& p) {
  const std::vector<int64_t> v =
      comm::broadcast_values(comm, {p.step, p.epoch, p.step_in_epoch, p.max_steps, as_signed(p.seed)});
  return checkpoint::Progress{v[0], v[1], v[2], v[3], as_unsigned(v[4])};
}

// Images per second over the steps since the last report, and the loader's wait.
struct RateWindow {
  Clock::time_point start = Clock::now();
  int64_t images = 0;
  int64_t steps = 0;
  double loader_wait_s = 0;
  void reset() { *this = RateWindow{}; }
};

// One run of train(): what the loop needs, built in the constructor in the
// order that fixes every random draw (seed, network, loader).
class Run {
 public:
  Run(const config::Config& cfg, const comm::Context& ctx, util::Logger& log, const EpochEvalHook& eval_hook);
  void resume_from(const std::string& resume);
  void start();
  TrainResult loop();

 private:
  void build_network();
  std::unique_ptr<data::Loader> make_loader();
  bool train_epoch();  // false: preempted
  void log_step(const StepLoss& loss, double lr);
  void end_epoch(bool preempted);
  void save(const char* why);
  void announce() const;

  const config::Config& cfg_;
  const comm::Context& ctx_;
  util::Logger& log_;
  const EpochEvalHook& eval_hook_;
  const int threads_;
  const torch::Device device_;
  model::Precision precision_;  // run.precision / run.channels_last resolved on device_
  std::unique_ptr<comm::Communicator> comm_;
  std::unique_ptr<Task> task_;
  std::unique_ptr<Sgd> sgd_;
  std::unique_ptr<data::Loader> loader_;
  std::unique_ptr<comm::GradSync> grad_sync_;
  std::unique_ptr<TrainStep> step_;  // one for the run: a captured CUDA graph outlives epochs
  int64_t steps_per_epoch_ = 0;
  int64_t stop_at_ = 0;
  checkpoint::Progress progress_;
  std::string resumed_from_;
  RateWindow window_;
  int64_t images_seen_ = 0;
  TrainResult result_;
};

Run::Run(const config::Config& cfg, const comm::Context& ctx, util::Logger& log,
         const EpochEvalHook& eval_hook)
    : cfg_(cfg),
      ctx_(ctx),
      log_(log),
      eval_hook_(eval_hook),
      threads_(util::resolve_threads(cfg.run.threads)),
      device_(model::resolve_device(cfg.run.device, ctx.local_rank)) {
  torch::set_num_threads(threads_);
  comm_ = comm::make_communicator(ctx, cfg.dist, device_);
  const int world = comm_->world();
  if (cfg.train.batch_size % world != 0) {
    throw UsageError(fmt::format("train.batch_size = {} (the global batch) is not divisible by the {} ranks",
                                 cfg.train.batch_size, world));
  }
  if (comm_->rank() == 0) {
    util::make_dirs(cfg.run.out);
    util::write_file_atomic(cfg.run.out + "/config.toml", config::to_toml(cfg));
    const int stale = checkpoint::remove_stale_temporaries(cfg.run.out);
    if (stale > 0) log_.warn("removed {} unfinished checkpoint file(s) of a killed writer", stale);
  }
  log_.info("resolved configuration (saved as {}/config.toml):\n{}", cfg.run.out, config::to_toml(cfg));
  build_network();
  loader_ = make_loader();
  steps_per_epoch_ = loader_->batches_per_epoch();
  if (steps_per_epoch_ == 0) {
    throw UsageError(fmt::format("train.batch_size = {} is larger than the {} training images",
                                 cfg.train.batch_size, loader_->samples().size()));
  }
  progress_.seed = cfg.train.seed;
  progress_.max_steps = steps_per_epoch_ * cfg.train.epochs;
}

void Run::build_network() {
  torch::manual_seed(cfg_.train.seed);
  task_ = make_task(cfg_);
  model::Network& network = task_->network();
  precision_ = model::resolve_precision(cfg_.run, device_);
  network.set_precision(precision_);
  if (eval_hook_ && cfg_.eval.every_epochs > 0 && !task_->periodic_eval()) {
    throw UsageError(fmt::format(
        "eval.every_epochs = {}: periodic WSOL evaluation needs model.kind = \"c2am\", not \"{}\"",
        cfg_.eval.every_epochs, cfg_.model.kind));
  }
  torch::nn::Module& net = network.module();
  if (!cfg_.model.pretrained.empty() && comm_->rank() == 0) {  // other ranks get the weights by broadcast
    const model::ImportReport rep =
        model::import_weights(net, model::read_tensor_dict(cfg_.model.pretrained), cfg_.model.pretrained);
    log_.info("pretrained '{}': {} tensors loaded, {} missing, {} unexpected, {} ignored",
              cfg_.model.pretrained, rep.loaded.size(), rep.missing.size(), rep.unexpected.size(),
              rep.ignored.size());
    for (const auto& k : rep.unexpected) log_.warn("pretrained key not used: {}", k);
  }
  model::place(net, device_, precision_.channels_last);
  if (device_.is_cuda()) model::set_cudnn_benchmark(cfg_.run.cudnn_benchmark);
  freeze_untrained(net, cfg_.train);
  if (comm_->world() > 1 && cfg_.dist.sync_batchnorm != "none") {
    torch::nn::Module* scope = cfg_.dist.sync_batchnorm == "head" ? network.head() : &net;
    const int layers = scope ? model::set_batchnorm_sync(*scope, make_sync_batchnorm(*comm_)) : 0;
    log_.info("SyncBatchNorm on {} BatchNorm layers ({})", layers, cfg_.dist.sync_batchnorm);
  }
  sgd_ = std::make_unique<Sgd>(net, cfg_.train, network.head_prefix());
}

std::unique_ptr<data::Loader> Run::make_loader() {
  data::LoaderOptions o;
  o.batch_per_rank = cfg_.train.batch_size / comm_->world();
  o.rank = comm_->rank();
  o.world = comm_->world();
  o.threads = cfg_.data.loader_threads > 0 ? cfg_.data.loader_threads : threads_;
  o.seed = cfg_.train.seed;
  o.skip_bad = cfg_.data.bad_sample == "skip";
  o.uint8 = data::uint8_batches(cfg_.data, device_.is_cuda());
  task_->configure_loader(o);
  return std::make_unique<data::Loader>(data::open_split(cfg_.data, "train"),
                                        data::train_transform(cfg_.data), o);
}

// Rank 0 reads the checkpoint; every rank then takes rank 0's state.
void Run::resume_from(const std::string& resume) {
  if (!resume.empty() && comm_->rank() == 0) {
    std::string skipped;
    const auto found = checkpoint::resolve_checkpoint(resume == "auto" ? cfg_.run.out : resume, &skipped);
    if (!skipped.empty()) log_.warn("{}", skipped);
    if (!found && resume != "auto") throw UsageError(fmt::format("no valid checkpoint in '{}'", resume));
    if (found) resumed_from_ = *found;
  }
  if (!resumed_from_.empty()) {
    const checkpoint::Checkpoint ckpt = checkpoint::load_checkpoint(resumed_from_);
    check_resumable(ckpt, cfg_, resumed_from_);
    checkpoint::load_weights_strict(task_->net(), ckpt.model, resumed_from_, "the network");
    restore_momentum(ckpt, *sgd_);
    progress_ = ckpt.progress;
    task_->restore(ckpt);
  }
  const bool resumed = comm::broadcast_values(*comm_, {resumed_from_.empty() ? 0 : 1})[0] != 0;
  progress_ = broadcast_progress(*comm_, progress_);
  task_->broadcast_state(*comm_);
  if (resumed) {
    log_.info("resumed from {} at step {} (epoch {}, batch {})", resumed_from_, progress_.step,
              progress_.epoch + 1, progress_.step_in_epoch);
  }
  comm::broadcast_module(*comm_, task_->net());  // every rank starts from rank 0's parameters and buffers
  broadcast_momentum(*comm_, *sgd_);
}

// C²AM with global negatives: the ranks' losses add up to the global loss, so
// their gradients are summed. Otherwise each rank's loss is a mean over its
// own batch, so gradients (and the logged loss) are averaged, as DDP does.
void Run::start() {
  const int world = comm_->world();
  if (world > 1) {
    grad_sync_ =
        std::make_unique<comm::GradSync>(*comm_, task_->net().named_parameters(/*recurse=*/true).pairs(),
                                         cfg_.dist.bucket_mb, task_->rank_share(world));
  }
  step_ = std::make_unique<TrainStep>(*task_, *sgd_, *comm_, grad_sync_.get());
  step_->use_cuda_graphs(cfg_, device_, log_);
  stop_at_ = cfg_.train.max_steps > 0 ? std::min<int64_t>(cfg_.train.max_steps, progress_.max_steps)
                                      : progress_.max_steps;
  log_.open_metrics(cfg_.run.out + "/metrics.jsonl");
  announce();
  result_.world = world;
  task_->net().train();
  comm::install_preemption_handlers();
}

void Run::announce() const {
  const int world = comm_->world();
  log_.info("data: {}", loader_->dataset().description);
  if (world > 1) {
    log_.info(
        "world: {} ranks ({} backend, started by {}), local batch {}, {} negatives, {} gradient buckets of "
        "<= {} MiB",
        world, comm_->backend(), ctx_.launcher, cfg_.train.batch_size / world, cfg_.dist.negatives,
        grad_sync_->num_buckets(), cfg_.dist.bucket_mb);
  }
  log_.info(
      "training {} {} on {} images: {} epochs x {} steps, global batch {} ({} rank{}), {} threads per rank, "
      "device {}, {}",
      cfg_.model.kind, cfg_.model.arch, loader_->samples().size(), cfg_.train.epochs, steps_per_epoch_,
      cfg_.train.batch_size, world, world == 1 ? "" : "s", threads_, device_.str(),
      model::describe(precision_));
}

// Metrics of the steps since the last report: the loss terms summed over
// ranks (each rank's term is its share of the global loss), lr, throughput,
// the loader's wait per step and peak memory. Every rank calls it.
void Run::log_step(const StepLoss& loss, double lr) {
  const std::vector<std::string> names = task_->term_names();
  torch::Tensor terms = torch::stack(loss.terms).detach().to(torch::kCPU, torch::kDouble);
  comm_->allreduce(terms, comm::ReduceOp::kSum);
  terms *= task_->rank_share(comm_->world());
  const auto* t = terms.data_ptr<double>();
  const int world = comm_->world();
  const double ips_rank = static_cast<double>(window_.images) / std::max(seconds_since(window_.start), 1e-9);
  const double ips = ips_rank * world;
  const double wait_ms =
      1000.0 * window_.loader_wait_s / static_cast<double>(std::max<int64_t>(window_.steps, 1));
  const double eta =
      static_cast<double>(stop_at_ - progress_.step) * cfg_.train.batch_size / std::max(ips, 1e-9);

  nlohmann::ordered_json line = {{"kind", "train"}, {"step", progress_.step}, {"epoch", progress_.epoch}};
  std::string shown = fmt::format("loss {:.4f}", t[0]);
  for (size_t k = 0; k < names.size(); ++k) {
    line[names[k]] = t[k];
    if (k > 0) shown += fmt::format("{}{} {:.4f}", k == 1 ? " (" : " ", names[k], t[k]);
  }
  if (names.size() > 1) shown += ")";
  line["lr"] = lr;
  line["img_per_s"] = ips;
  line["world"] = world;
  line["img_per_s_per_rank"] = ips_rank;
  line["loader_wait_ms"] = wait_ms;
  line["peak_memory_mib"] = peak_memory_mib(device_);
  const std::string rate = world == 1 ? fmt::format("{:.1f} img/s", ips)
                                      : fmt::format("{:.1f} img/s ({:.1f} per rank)", ips, ips_rank);
  log_.progress(fmt::format("epoch {}/{} step {}/{} | {} | lr {:.3g} | {} | ETA {}", progress_.epoch + 1,
                            cfg_.train.epochs, progress_.step, stop_at_, shown, lr, rate,
                            util::format_duration(eta)));
  log_.metric(line.dump());
  window_.reset();
}

void Run::save(const char* why) {
  const std::string path = checkpoint::checkpoint_path(cfg_.run.out, progress_.step);
  if (comm_->rank() == 0) {
    checkpoint::Checkpoint c;
    c.arch = cfg_.model.arch;
    c.config_toml = config::to_toml(cfg_);
    c.progress = progress_;
    c.polarity = task_->eval_keys().polarity;
    c.model = model::state_dict(task_->net());
    for (const ParamGroup& g : sgd_->groups()) {
      for (size_t i = 0; i < g.names.size(); ++i) {
        if (g.momentum[i].defined()) c.momentum[g.names[i]] = g.momentum[i];
      }
    }
    checkpoint::save_checkpoint(path, c);
    checkpoint::prune_checkpoints(cfg_.run.out, cfg_.train.keep_checkpoints);
  }
  result_.checkpoint = path;
  log_.info("checkpoint ({}) {}", why, path);
}

// The batches of the current epoch from where it stands, until the epoch or
// the run ends; false when a preemption was requested (on any rank).
bool Run::train_epoch() {
  loader_->start_epoch(progress_.epoch, progress_.step_in_epoch);
  DeviceFeed feed(device_, loader_->transform());  // the next batch is copied to the device while this one trains
  auto next = [&] {
    const auto t = Clock::now();
    std::optional<data::Batch> b = loader_->next();
    window_.loader_wait_s += seconds_since(t);
    if (b) feed.stage(std::move(*b));
  };
  next();
  while (progress_.step < stop_at_) {
    std::optional<data::Batch> batch = feed.take();
    if (!batch) break;
    next();
    for (const std::string& why : batch->skipped) log_.warn("skipped sample: {}", why);
    const double lr = sgd_->lr_at(progress_.step, progress_.max_steps);
    const StepLoss loss = step_->run(*batch, progress_.step, progress_.max_steps);
    ++progress_.step;
    ++progress_.step_in_epoch;
    task_->after_step(loss);
    const int64_t n = batch->images.size(0);
    images_seen_ += n;
    window_.images += n;
    ++window_.steps;
    if (progress_.step % cfg_.train.log_every == 0 || progress_.step == stop_at_) log_step(loss, lr);
    if (comm_->any(comm::preemption_requested())) return false;
    if (cfg_.train.checkpoint_every > 0 && progress_.step % cfg_.train.checkpoint_every == 0 &&
        progress_.step < stop_at_) {
      save("interval");
    }
  }
  return true;
}

// After an epoch's batches: the task's hook, the checkpoint, evaluation.
void Run::end_epoch(bool preempted) {
  const bool complete = progress_.step_in_epoch >= steps_per_epoch_;
  task_->end_epoch(EpochEnd{progress_.epoch, complete, progress_.step >= stop_at_}, *comm_, log_);
  if (complete) {
    ++progress_.epoch;
    progress_.step_in_epoch = 0;
  }
  log_.end_progress();
  if (preempted) {
    const int sig = comm::preemption_signal();
    log_.info("preemption requested ({}): checkpointing at step {} and exiting with status {}",
              sig == 0 ? std::string("signal on another rank")
                       : fmt::format("signal {} on rank {}", sig, comm_->rank()),
              progress_.step, kExitPreempted);
    save("preemption");
    return;
  }
  save(complete ? "epoch end" : "stop");
  const int every = cfg_.eval.every_epochs;
  if (eval_hook_ && task_->periodic_eval() && complete && every > 0 &&
      (progress_.epoch % every == 0 || progress_.epoch == cfg_.train.epochs)) {
    eval_hook_(task_->network(), task_->eval_keys(), progress_.epoch, result_.checkpoint, *comm_);
  }
}

TrainResult Run::loop() {
  const auto t_start = Clock::now();
  bool preempted = false;
  while (!preempted && progress_.step < stop_at_ && progress_.epoch < cfg_.train.epochs) {
    preempted = !train_epoch();
    const bool complete = progress_.step_in_epoch >= steps_per_epoch_;
    if (!complete && !preempted && progress_.step < stop_at_)
      break;  // loader ran dry: cannot happen (drop_last)
    end_epoch(preempted);
  }
  log_.end_progress();
  const double seconds = seconds_since(t_start);
  const int world = comm_->world();
  result_.polarity = task_->eval_keys().polarity;
  result_.steps = progress_.step;
  result_.preempted = preempted;
  if (result_.checkpoint.empty())
    result_.checkpoint = resumed_from_;  // resumed a finished run: nothing to train
  result_.images_per_second_per_rank = static_cast<double>(images_seen_) / std::max(seconds, 1e-9);
  result_.images_per_second = result_.images_per_second_per_rank * world;
  log_.info("trained {} steps in {:.1f} s ({:.1f} img/s{}); last checkpoint {}", progress_.step, seconds,
            result_.images_per_second,
            world == 1
                ? std::string()
                : fmt::format(", {:.1f} per rank on {} ranks", result_.images_per_second_per_rank, world),
            result_.checkpoint);
  comm_->barrier();  // rank 0's checkpoint is on disk before any rank reports success
  return result_;
}

}  // namespace

TrainResult train(const config::Config& cfg, const comm::Context& ctx, const std::string& resume,
                  util::Logger& log, const EpochEvalHook& eval_hook) {
  Run run(cfg, ctx, log, eval_hook);
  run.resume_from(resume);
  run.start();
  return run.loop();
}

}  // namespace c2am::train
