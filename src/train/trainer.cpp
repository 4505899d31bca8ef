#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "data/loader.h"
#include "dist/autograd_ops.h"
#include "dist/communicator.h"
#include "dist/grad_sync.h"
#include "dist/preempt.h"
#include "model/c2am_net.h"
#include "model/precision.h"
#include "train/checkpoint.h"
#include "train/device_feed.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/task_c2am.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/threads.h"

namespace c2am::train {

namespace {

using Clock = std::chrono::steady_clock;

std::string format_eta(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

void restore(const Checkpoint& ckpt, const config::Config& cfg, const std::string& path,
             torch::nn::Module& net, Sgd& sgd) {
  const config::Config saved = config::load_from_string(ckpt.config_toml, path + " (saved config)");
  if (saved.model.kind != cfg.model.kind) {
    throw UsageError(fmt::format("cannot resume from '{}': it trained model.kind = {} but the config says {}",
                                 path, saved.model.kind, cfg.model.kind));
  }
  if (ckpt.arch != cfg.model.arch) {
    throw UsageError(
        fmt::format("cannot resume from '{}': it was trained with model.arch = {} but the config "
                    "says {}",
                    path, ckpt.arch, cfg.model.arch));
  }
  if (saved.model.strides != cfg.model.strides || saved.train.batch_size != cfg.train.batch_size ||
      saved.train.seed != cfg.train.seed || saved.data.train_crop != cfg.data.train_crop) {
    throw UsageError(
        fmt::format("cannot resume from '{}': model.strides, train.batch_size, train.seed and "
                    "data.train_crop must match the checkpoint's config",
                    path));
  }
  const model::ImportReport rep = model::import_weights(net, ckpt.model, path);
  if (!rep.missing.empty() || !rep.unexpected.empty()) {
    throw Error(fmt::format("checkpoint '{}' does not match the network: {} missing, {} unexpected tensors",
                            path, rep.missing.size(), rep.unexpected.size()));
  }
  for (ParamGroup& g : sgd.groups()) {
    for (size_t i = 0; i < g.names.size(); ++i) {
      const auto it = ckpt.momentum.find(g.names[i]);
      if (it != ckpt.momentum.end()) {
        g.momentum[i] = it->second.to(g.params[i].options(), /*non_blocking=*/false, /*copy=*/true);
      }
    }
  }
}

Checkpoint snapshot(const config::Config& cfg, const torch::nn::Module& net, const Sgd& sgd,
                    const Progress& progress, int polarity) {
  Checkpoint c;
  c.arch = cfg.model.arch;
  c.config_toml = config::to_toml(cfg);
  c.progress = progress;
  c.polarity = polarity;
  c.model = model::state_dict(net);
  for (const ParamGroup& g : sgd.groups()) {
    for (size_t i = 0; i < g.names.size(); ++i) {
      if (g.momentum[i].defined()) c.momentum[g.names[i]] = g.momentum[i];
    }
  }
  return c;
}

// Rank 0's momentum buffers on every rank (after a resume on rank 0).
void broadcast_momentum(dist::Communicator& comm, Sgd& sgd) {
  if (comm.world() == 1) return;
  std::vector<int64_t> defined;
  for (const ParamGroup& g : sgd.groups())
    for (const torch::Tensor& m : g.momentum) defined.push_back(m.defined() ? 1 : 0);
  defined = dist::broadcast_values(comm, defined);
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

}  // namespace

TrainResult train(const config::Config& cfg, const dist::Context& ctx, const std::string& resume,
                  const util::Logger& log, const EpochEvalHook& eval_hook) {
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(threads);
  const torch::Device device = model::resolve_device(cfg.run.device, ctx.local_rank);
  std::unique_ptr<dist::Communicator> comm = dist::make_communicator(ctx, cfg.dist, device);
  const int world = comm->world();
  const int rank = comm->rank();
  if (cfg.train.batch_size % world != 0) {
    throw UsageError(fmt::format("train.batch_size = {} (the global batch) is not divisible by the {} ranks",
                                 cfg.train.batch_size, world));
  }
  const std::string& run_dir = cfg.run.out;
  if (rank == 0) {
    util::make_dirs(run_dir);
    util::write_file_atomic(run_dir + "/config.toml", config::to_toml(cfg));
  }
  log.info("resolved configuration (saved as {}/config.toml):\n{}", run_dir, config::to_toml(cfg));

  torch::manual_seed(cfg.train.seed);
  const std::unique_ptr<Task> task = make_task(cfg);
  task->set_precision(model::Precision{cfg.run.precision == "bf16", cfg.run.channels_last});
  torch::nn::Module& net = task->net();
  auto* c2am_task = dynamic_cast<C2amTask*>(task.get());
  if (eval_hook && cfg.eval.every_epochs > 0 && c2am_task == nullptr) {
    throw UsageError(
        fmt::format("eval.every_epochs = {}: periodic WSOL evaluation needs model.kind = \"c2am\", not "
                    "\"{}\"",
                    cfg.eval.every_epochs, cfg.model.kind));
  }
  if (!cfg.model.pretrained.empty() && rank == 0) {  // other ranks get the weights by broadcast
    const model::ImportReport rep =
        model::import_weights(net, model::read_tensor_dict(cfg.model.pretrained), cfg.model.pretrained);
    log.info("pretrained '{}': {} tensors loaded, {} missing, {} unexpected, {} ignored",
             cfg.model.pretrained, rep.loaded.size(), rep.missing.size(), rep.unexpected.size(),
             rep.ignored.size());
    for (const auto& k : rep.unexpected) log.warn("pretrained key not used: {}", k);
  }
  model::place(net, device, cfg.run.channels_last);
  if (device.is_cuda()) model::set_cudnn_benchmark(cfg.run.cudnn_benchmark);
  freeze_batchnorm_affine(net);
  if (world > 1 && cfg.dist.sync_batchnorm != "none") {
    torch::nn::Module* scope = cfg.dist.sync_batchnorm == "head" ? task->head() : &net;
    const int layers = scope ? model::set_batchnorm_sync(*scope, dist::make_sync_batchnorm(*comm)) : 0;
    log.info("SyncBatchNorm on {} BatchNorm layers ({})", layers, cfg.dist.sync_batchnorm);
  }
  Sgd sgd(net, cfg.train, task->head_prefix());

  data::LoaderOptions lopt;
  lopt.batch_per_rank = cfg.train.batch_size / world;
  lopt.rank = rank;
  lopt.world = world;
  lopt.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
  lopt.seed = cfg.train.seed;
  lopt.skip_bad = cfg.data.bad_sample == "skip";
  task->configure_loader(lopt);
  data::Loader loader(data::open_split(cfg.data, "train"), data::train_transform(cfg.data), lopt);
  const int64_t steps_per_epoch = loader.batches_per_epoch();
  if (steps_per_epoch == 0) {
    throw UsageError(fmt::format("train.batch_size = {} is larger than the {} training images",
                                 cfg.train.batch_size, loader.samples().size()));
  }

  Progress progress;
  progress.seed = cfg.train.seed;
  progress.max_steps = steps_per_epoch * cfg.train.epochs;
  int polarity = -1;
  std::string resume_from;
  if (!resume.empty() && rank == 0) {  // rank 0 reads the checkpoint; the others get it by broadcast
    std::string skipped;
    const auto found = resolve_checkpoint(resume == "auto" ? run_dir : resume, &skipped);
    if (!skipped.empty()) log.warn("{}", skipped);
    if (!found && resume != "auto") throw UsageError(fmt::format("no valid checkpoint in '{}'", resume));
    if (found) resume_from = *found;
  }
  if (!resume_from.empty()) {
    const Checkpoint ckpt = load_checkpoint(resume_from);
    restore(ckpt, cfg, resume_from, net, sgd);
    progress = ckpt.progress;
    polarity = ckpt.polarity;
  }
  {
    const std::vector<int64_t> v = dist::broadcast_values(
        *comm, {resume_from.empty() ? 0 : 1, progress.step, progress.epoch, progress.step_in_epoch,
                progress.max_steps, as_signed(progress.seed), polarity});
    progress = Progress{v[1], v[2], v[3], v[4], as_unsigned(v[5])};
    polarity = static_cast<int>(v[6]);
    if (v[0]) {
      log.info("resumed from {} at step {} (epoch {}, batch {})", resume_from, progress.step,
               progress.epoch + 1, progress.step_in_epoch);
    }
  }
  dist::broadcast_module(*comm, net);  // every rank starts from rank 0's parameters and buffers
  broadcast_momentum(*comm, sgd);
  // C²AM with global negatives: the ranks' losses add up to the global loss,
  // so their gradients are summed. Otherwise each rank's loss is a mean over
  // its own batch, so gradients (and the logged loss) are averaged, as DDP does.
  const double rank_share = task->rank_share(world);
  const std::vector<std::string> term_names = task->term_names();
  std::unique_ptr<dist::GradSync> grad_sync;
  if (world > 1) {
    grad_sync = std::make_unique<dist::GradSync>(*comm, net.named_parameters(/*recurse=*/true).pairs(),
                                                 cfg.dist.bucket_mb, rank_share);
  }
  const int64_t stop_at = cfg.train.max_steps > 0 ? std::min<int64_t>(cfg.train.max_steps, progress.max_steps)
                                                  : progress.max_steps;

  util::Logger& mlog = const_cast<util::Logger&>(log);
  mlog.open_metrics(run_dir + "/metrics.jsonl");
  log.info("data: {}", loader.dataset().description);
  if (world > 1) {
    log.info(
        "world: {} ranks ({} backend, started by {}), local batch {}, {} negatives, {} gradient buckets of "
        "<= {} "
        "MiB",
        world, comm->backend(), ctx.launcher, lopt.batch_per_rank, cfg.dist.negatives,
        grad_sync->num_buckets(), cfg.dist.bucket_mb);
  }
  log.info(
      "training {} {} on {} images: {} epochs x {} steps, global batch {} ({} rank{}), {} threads per rank, "
      "device {}, {}{}",
      cfg.model.kind, cfg.model.arch, loader.samples().size(), cfg.train.epochs, steps_per_epoch,
      cfg.train.batch_size, world, world == 1 ? "" : "s", threads, device.str(), cfg.run.precision,
      cfg.run.channels_last ? ", channels_last" : "");

  TrainResult result;
  result.world = world;
  net.train();
  const auto t_start = Clock::now();
  int64_t images_seen = 0;
  auto t_window = Clock::now();
  int64_t images_window = 0;
  auto save = [&](const char* why) {
    const std::string path = checkpoint_path(run_dir, progress.step);
    if (rank == 0) {
      save_checkpoint(path, snapshot(cfg, net, sgd, progress, polarity));
      prune_checkpoints(run_dir, cfg.train.keep_checkpoints);
    }
    result.checkpoint = path;
    log.info("checkpoint ({}) {}", why, path);
  };
  auto decide_polarity = [&](const torch::Tensor& last_map) {
    // Rank 0's first image is the global batch's first image: the same map
    // a single process would look at.
    int p = rank == 0 && last_map.defined() ? (model::border_says_negative(last_map) ? 1 : 0) : -1;
    polarity = static_cast<int>(dist::broadcast_values(*comm, {p})[0]);
  };

  dist::install_preemption_handlers();
  TrainStep train_step(*task, sgd, *comm, grad_sync.get());
  train_step.use_cuda_graphs(cfg, device, log);
  DeviceFeed feed(device);  // the next batch is copied to the device while this one trains
  bool preempted = false;
  while (!preempted && progress.step < stop_at && progress.epoch < cfg.train.epochs) {
    loader.start_epoch(progress.epoch, progress.step_in_epoch);
    feed.clear();
    if (std::optional<data::Batch> first = loader.next()) feed.stage(std::move(*first));
    torch::Tensor last_map;
    while (progress.step < stop_at) {
      std::optional<data::Batch> batch = feed.take();
      if (!batch) break;
      if (std::optional<data::Batch> next = loader.next()) feed.stage(std::move(*next));
      for (const std::string& why : batch->skipped) log.warn("skipped sample: {}", why);

      const double lr = sgd.lr_at(progress.step, progress.max_steps);
      const StepLoss loss = train_step.run(*batch, progress.step, progress.max_steps);
      ++progress.step;
      ++progress.step_in_epoch;
      if (loss.map.defined()) last_map = loss.map.detach();

      const int64_t n = batch->images.size(0);
      images_seen += n;
      images_window += n;
      if (progress.step % cfg.train.log_every == 0 || progress.step == stop_at) {
        // The loss terms are this rank's share of the global loss: their sum is the loss.
        torch::Tensor terms = torch::stack(loss.terms).detach().to(torch::kCPU, torch::kDouble);
        comm->allreduce(terms, dist::ReduceOp::kSum);
        terms *= rank_share;
        const auto* t = terms.data_ptr<double>();
        std::string shown = fmt::format("loss {:.4f}", t[0]);
        std::string fields = fmt::format(R"("{}":{})", term_names[0], t[0]);
        for (size_t k = 1; k < term_names.size(); ++k) {
          shown += fmt::format("{}{} {:.4f}", k == 1 ? " (" : " ", term_names[k], t[k]);
          fields += fmt::format(R"(,"{}":{})", term_names[k], t[k]);
        }
        if (term_names.size() > 1) shown += ")";
        const double dt = std::chrono::duration<double>(Clock::now() - t_window).count();
        const double ips_rank = static_cast<double>(images_window) / std::max(dt, 1e-9);
        const double ips = ips_rank * world;
        const double eta =
            static_cast<double>(stop_at - progress.step) * cfg.train.batch_size / std::max(ips, 1e-9);
        const std::string rate = world == 1 ? fmt::format("{:.1f} img/s", ips)
                                            : fmt::format("{:.1f} img/s ({:.1f} per rank)", ips, ips_rank);
        log.progress(fmt::format("epoch {}/{} step {}/{} | {} | lr {:.3g} | {} | ETA {}", progress.epoch + 1,
                                 cfg.train.epochs, progress.step, stop_at, shown, lr, rate, format_eta(eta)));
        mlog.metric(fmt::format(
            R"({{"kind":"train","step":{},"epoch":{},{},"lr":{},"img_per_s":{},"world":{},"img_per_s_per_rank":{}}})",
            progress.step, progress.epoch, fields, lr, ips, world, ips_rank));
        t_window = Clock::now();
        images_window = 0;
      }
      if (comm->any(dist::preemption_requested())) {
        preempted = true;
        break;
      }
      if (cfg.train.checkpoint_every > 0 && progress.step % cfg.train.checkpoint_every == 0 &&
          progress.step < stop_at) {
        save("interval");
      }
    }
    const bool epoch_done = progress.step_in_epoch >= steps_per_epoch;
    if (epoch_done && progress.epoch == 0 && polarity < 0 && last_map.defined()) {
      decide_polarity(last_map);
      log.info("polarity after the first epoch: {}",
               polarity ? "negative (1 - P is the foreground)" : "positive");
    }
    if (epoch_done) {
      ++progress.epoch;
      progress.step_in_epoch = 0;
    }
    if (!epoch_done && !preempted && progress.step < stop_at)
      break;  // loader ran dry: cannot happen with drop_last
    if (polarity < 0 && progress.step >= stop_at && last_map.defined()) {
      decide_polarity(last_map);  // stopped before the first epoch ended
    }
    log.end_progress();
    if (preempted) {
      const int sig = dist::preemption_signal();
      log.info(
          "preemption requested ({}): checkpointing at step {} and exiting with status {}",
          sig == 0 ? std::string("signal on another rank") : fmt::format("signal {} on rank {}", sig, rank),
          progress.step, kExitPreempted);
      save("preemption");
      break;
    }
    save(epoch_done ? "epoch end" : "stop");
    const int every = cfg.eval.every_epochs;
    if (eval_hook && c2am_task && epoch_done && every > 0 &&
        (progress.epoch % every == 0 || progress.epoch == cfg.train.epochs)) {
      eval_hook(c2am_task->c2am(), polarity < 0 ? 0 : polarity, progress.epoch, result.checkpoint, *comm);
    }
  }
  log.end_progress();
  const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  result.polarity = polarity;
  result.steps = progress.step;
  result.preempted = preempted;
  result.images_per_second_per_rank = static_cast<double>(images_seen) / std::max(seconds, 1e-9);
  result.images_per_second = result.images_per_second_per_rank * world;
  log.info("trained {} steps in {:.1f} s ({:.1f} img/s{}); last checkpoint {}", progress.step, seconds,
           result.images_per_second,
           world == 1
               ? std::string()
               : fmt::format(", {:.1f} per rank on {} ranks", result.images_per_second_per_rank, world),
           result.checkpoint);
  comm->barrier();  // rank 0's checkpoint is on disk before any rank reports success
  return result;
}

}  // namespace c2am::train
