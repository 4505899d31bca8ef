#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "data/loader.h"
#include "loss/contrastive_loss.h"
#include "model/c2am_net.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
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

// The reference freezes BatchNorm's affine parameters (they are in no
// optimiser group); not computing their gradients changes no other value.
void freeze_batchnorm_affine(torch::nn::Module& net) {
  for (auto& p : net.named_parameters(/*recurse=*/true)) {
    if (p.value().dim() == 1) p.value().set_requires_grad(false);
  }
}

void restore(const Checkpoint& ckpt, const config::Config& cfg, const std::string& path, model::C2amNet& net,
             Sgd& sgd) {
  if (ckpt.arch != cfg.model.arch) {
    throw UsageError(fmt::format("cannot resume from '{}': it was trained with model.arch = {} but the config "
                                 "says {}",
                                 path, ckpt.arch, cfg.model.arch));
  }
  const config::Config saved = config::load_from_string(ckpt.config_toml, path + " (saved config)");
  if (saved.model.strides != cfg.model.strides || saved.train.batch_size != cfg.train.batch_size ||
      saved.train.seed != cfg.train.seed || saved.data.train_crop != cfg.data.train_crop) {
    throw UsageError(fmt::format("cannot resume from '{}': model.strides, train.batch_size, train.seed and "
                                 "data.train_crop must match the checkpoint's config",
                                 path));
  }
  const model::ImportReport rep = model::import_weights(*net, ckpt.model, path);
  if (!rep.missing.empty() || !rep.unexpected.empty()) {
    throw Error(fmt::format("checkpoint '{}' does not match the network: {} missing, {} unexpected tensors", path,
                            rep.missing.size(), rep.unexpected.size()));
  }
  for (ParamGroup& g : sgd.groups()) {
    for (size_t i = 0; i < g.names.size(); ++i) {
      const auto it = ckpt.momentum.find(g.names[i]);
      if (it != ckpt.momentum.end()) g.momentum[i] = it->second.clone();
    }
  }
}

Checkpoint snapshot(const config::Config& cfg, const model::C2amNet& net, const Sgd& sgd, const Progress& progress,
                    int polarity) {
  Checkpoint c;
  c.arch = cfg.model.arch;
  c.config_toml = config::to_toml(cfg);
  c.progress = progress;
  c.polarity = polarity;
  c.model = model::state_dict(*net);
  for (const ParamGroup& g : sgd.groups()) {
    for (size_t i = 0; i < g.names.size(); ++i) {
      if (g.momentum[i].defined()) c.momentum[g.names[i]] = g.momentum[i];
    }
  }
  return c;
}

}  // namespace

TrainResult train(const config::Config& cfg, const std::string& resume, const util::Logger& log) {
  const int threads = util::resolve_threads(cfg.run.threads);
  torch::set_num_threads(threads);
  const std::string& run_dir = cfg.run.out;
  util::make_dirs(run_dir);
  util::write_file_atomic(run_dir + "/config.toml", config::to_toml(cfg));
  log.info("resolved configuration (saved as {}/config.toml):\n{}", run_dir, config::to_toml(cfg));

  torch::manual_seed(cfg.train.seed);
  model::C2amNet net(model::ResNetOptions{cfg.model.arch, cfg.model.strides});
  if (!cfg.model.pretrained.empty()) {
    const model::ImportReport rep =
        model::import_weights(*net, model::read_tensor_dict(cfg.model.pretrained), cfg.model.pretrained);
    log.info("pretrained '{}': {} tensors loaded, {} missing, {} unexpected, {} ignored", cfg.model.pretrained,
             rep.loaded.size(), rep.missing.size(), rep.unexpected.size(), rep.ignored.size());
    for (const auto& k : rep.unexpected) log.warn("pretrained key not used: {}", k);
  }
  freeze_batchnorm_affine(*net);
  Sgd sgd(*net, cfg.train);

  const int world = 1;  // the distributed layer sets rank and world
  data::LoaderOptions lopt;
  lopt.batch_per_rank = cfg.train.batch_size / world;
  lopt.world = world;
  lopt.threads = cfg.data.loader_threads > 0 ? cfg.data.loader_threads : threads;
  lopt.seed = cfg.train.seed;
  lopt.skip_bad = cfg.data.bad_sample == "skip";
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
  if (!resume.empty()) {
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
    log.info("resumed from {} at step {} (epoch {}, batch {})", resume_from, progress.step, progress.epoch + 1,
             progress.step_in_epoch);
  }
  const int64_t stop_at =
      cfg.train.max_steps > 0 ? std::min<int64_t>(cfg.train.max_steps, progress.max_steps) : progress.max_steps;

  util::Logger& mlog = const_cast<util::Logger&>(log);
  mlog.open_metrics(run_dir + "/metrics.jsonl");
  log.info("data: {}", loader.dataset().description);
  log.info("training {} on {} images: {} epochs x {} steps, batch {}, {} threads", cfg.model.arch,
           loader.samples().size(), cfg.train.epochs, steps_per_epoch, cfg.train.batch_size, threads);

  TrainResult result;
  net->train();
  const auto t_start = Clock::now();
  int64_t images_seen = 0;
  auto t_window = Clock::now();
  int64_t images_window = 0;
  auto save = [&](const char* why) {
    const std::string path = checkpoint_path(run_dir, progress.step);
    save_checkpoint(path, snapshot(cfg, net, sgd, progress, polarity));
    prune_checkpoints(run_dir, cfg.train.keep_checkpoints);
    result.checkpoint = path;
    log.info("checkpoint ({}) {}", why, path);
  };

  while (progress.step < stop_at && progress.epoch < cfg.train.epochs) {
    loader.start_epoch(progress.epoch, progress.step_in_epoch);
    torch::Tensor last_map;
    while (progress.step < stop_at) {
      std::optional<data::Batch> batch = loader.next();
      if (!batch) break;
      for (const std::string& why : batch->skipped) log.warn("skipped sample: {}", why);

      const model::C2amOutput out = net->forward(batch->images);
      const loss::LossTerms loss = loss::c2am_loss(out.v_f, out.v_b, cfg.loss.alpha);

      sgd.zero_grad();
      loss.total.backward();
      const double lr = sgd.lr_at(progress.step, progress.max_steps);
      sgd.step(progress.step, progress.max_steps);
      ++progress.step;
      ++progress.step_in_epoch;
      last_map = out.map.detach();

      const int64_t n = batch->images.size(0);
      images_seen += n;
      images_window += n;
      if (progress.step % cfg.train.log_every == 0 || progress.step == stop_at) {
        const double dt = std::chrono::duration<double>(Clock::now() - t_window).count();
        const double ips = static_cast<double>(images_window) / std::max(dt, 1e-9);
        const double eta = static_cast<double>(stop_at - progress.step) * cfg.train.batch_size / std::max(ips, 1e-9);
        log.progress(fmt::format(
            "epoch {}/{} step {}/{} | loss {:.4f} (pos_bg {:.4f} neg {:.4f} pos_fg {:.4f}) | lr {:.3g} | {:.1f} img/s "
            "| ETA {}",
            progress.epoch + 1, cfg.train.epochs, progress.step, stop_at, loss.total.item<double>(),
            loss.pos_bg.item<double>(), loss.neg.item<double>(), loss.pos_fg.item<double>(), lr, ips,
            format_eta(eta)));
        mlog.metric(fmt::format(
            R"({{"kind":"train","step":{},"epoch":{},"loss":{},"pos_bg":{},"neg":{},"pos_fg":{},"lr":{},"img_per_s":{}}})",
            progress.step, progress.epoch, loss.total.item<double>(), loss.pos_bg.item<double>(),
            loss.neg.item<double>(), loss.pos_fg.item<double>(), lr, ips));
        t_window = Clock::now();
        images_window = 0;
      }
      if (cfg.train.checkpoint_every > 0 && progress.step % cfg.train.checkpoint_every == 0 &&
          progress.step < stop_at) {
        save("interval");
      }
    }
    const bool epoch_done = progress.step_in_epoch >= steps_per_epoch;
    if (epoch_done && progress.epoch == 0 && polarity < 0 && last_map.defined()) {
      polarity = model::border_says_negative(last_map) ? 1 : 0;
      log.info("polarity after the first epoch: {}", polarity ? "negative (1 - P is the foreground)" : "positive");
    }
    if (epoch_done) {
      ++progress.epoch;
      progress.step_in_epoch = 0;
    }
    if (!epoch_done && progress.step < stop_at) break;  // loader ran dry: cannot happen with drop_last
    if (polarity < 0 && progress.step >= stop_at && last_map.defined()) {
      polarity = model::border_says_negative(last_map) ? 1 : 0;  // stopped before the first epoch ended
    }
    log.end_progress();
    save(epoch_done ? "epoch end" : "stop");
  }
  log.end_progress();
  const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  result.polarity = polarity;
  result.steps = progress.step;
  result.images_per_second = static_cast<double>(images_seen) / std::max(seconds, 1e-9);
  log.info("trained {} steps in {:.1f} s ({:.1f} img/s); last checkpoint {}", progress.step, seconds,
           result.images_per_second, result.checkpoint);
  return result;
}

}  // namespace c2am::train
