// Implements: `c2am train` (train what the config says: C²AM by default) and
// its fixed-kind forms: of the WSSS stage, `c2am train-classifier` (the
// multi-label classifier of the baseline CAMs) and `c2am train-saliency` (the
// saliency network on background cues); of WSOL, `c2am train-regressor`
// (PSOL's box regressor on pseudo boxes): one trainer (train/trainer.h).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/monitoring.h"
#include "comm/context.h"
#include "eval/wsol_eval_net.h"
#include "model/network.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/log.h"

namespace c2am::cli {

namespace {
struct TrainArgs {
  std::string command;
  ConfigOptions cfg;
  std::string resume;
  std::string kind;  // "" = model.kind of the config
  std::string cues;  // train-saliency: --cues -> data.cues
  std::string boxes;  // train-regressor: --boxes -> data.boxes
};

constexpr const char* kTrainFooter =
    "Distributed: start it with mpirun or srun --mpi=pmix (launch/mpirun.sh, launch/slurm/); "
    "train.batch_size is the global batch.\nSIGUSR1/SIGTERM: checkpoint at the next step and exit 75.\n";

void add_train_command(CLI::App& app, Action* action, const std::string& name, const std::string& about,
                       const std::string& kind, const std::string& examples);
}  // namespace

namespace {

// Evaluation after epochs during training (eval.every_epochs): WSOL metrics
// of the network in memory, logged and appended to metrics.jsonl (at the
// step of the checkpoint just written, so evaluations share the training
// curves' axis) and the contact sheet handed to the run's monitor.
train::EpochEvalHook periodic_eval(const config::Config& cfg, util::Logger& log, RunMonitor& monitor) {
  return [&cfg, &log, &monitor](model::Network& network, const checkpoint::EvalKeys& keys, int64_t epoch,
                                const std::string& checkpoint, comm::Communicator& comm) {
    model::C2amNetImpl& net = model::C2amNetwork::of(network, "periodic evaluation's network").c2am();
    eval::WsolEvalOptions opts;
    opts.checkpoint = checkpoint;
    opts.out_dir = fmt::format("{}/eval/epoch-{:03d}", cfg.run.out, epoch);
    opts.heatmaps = cfg.eval.heatmaps;
    const int polarity = keys.polarity < 0 ? 0 : keys.polarity;
    const eval::WsolEvalResult r = eval::evaluate_wsol_net(net, polarity, cfg, opts, comm, log);
    log.info("eval after epoch {}: CorLoc {:.2f}% (tau {:.2f}), MaxBoxAccV2 {:.2f}% -> {}", epoch,
             r.corloc.best_accuracy, r.corloc.best_threshold, r.maxboxacc.max_box_acc_v2, opts.out_dir);
    const std::optional<int64_t> step = checkpoint_step(checkpoint);
    nlohmann::ordered_json line = {{"kind", "eval"}};
    if (step) line["step"] = *step;
    line["epoch"] = epoch;
    line["corloc"] = r.corloc.best_accuracy;
    line["best_threshold"] = r.corloc.best_threshold;
    line["max_box_acc_v2"] = r.maxboxacc.max_box_acc_v2;
    line["centre_box"] = r.centre_baseline;
    line["images"] = r.corloc.total;
    log.metric(line.dump());
    monitor.image_file("eval/heatmaps", step.value_or(epoch), opts.out_dir + "/heatmaps.png");
  };
}

}  // namespace

void add_train(CLI::App& app, Action* action) {
  add_train_command(
      app, action, "train", "train C²AM (or model.kind) (writes config.toml, metrics.jsonl, checkpoints/)",
      "",
      "Example: c2am train -c configs/synth_demo.toml --data runs/demo/data -o runs/demo --resume auto\n"
      "Example: launch/mpirun.sh -n 2 -- build/src/cli/c2am train -c configs/synth_demo.toml --data "
      "runs/demo/data -o runs/demo");
  add_train_command(
      app, action, "train-classifier",
      "WSSS: train the multi-label classifier whose CAMs are refined (model.kind = classifier)", "classifier",
      "Image-level labels are the classes of each image's packed VOC mask.\n"
      "Example: c2am train-classifier -c configs/voc_classifier.toml --data runs/voc/data -o runs/voc/cls");
  add_train_command(app, action, "train-saliency",
                    "WSSS: train the saliency network on background cues (model.kind = saliency)", "saliency",
                    "Example: c2am train-saliency -c configs/voc_saliency.toml --data runs/voc/data --cues "
                    "runs/voc/cues -o runs/voc/sal");
  add_train_command(
      app, action, "train-regressor",
      "WSOL: train PSOL's class-agnostic box regressor on pseudo boxes (model.kind = regressor)", "regressor",
      "The pseudo boxes are c2am extract-boxes' output for the training split (docs/wsol.md).\n"
      "Example: c2am train-regressor -c configs/cub_psol.toml --data runs/cub/data --boxes "
      "runs/cub/boxes -o runs/cub/psol");
}

namespace {

void add_train_command(CLI::App& app, Action* action, const std::string& name, const std::string& about,
                       const std::string& kind, const std::string& examples) {
  auto* args = new TrainArgs();
  args->command = name;
  args->kind = kind;
  CLI::App* cmd = app.add_subcommand(name, about);
  add_config_options(cmd, &args->cfg);
  cmd->add_option("--resume", args->resume,
                  "continue training: 'auto' (newest valid checkpoint of the run folder, if any) or a "
                  "checkpoint file / run folder");
  if (kind == "saliency") {
    cmd->add_option("--cues", args->cues, "folder of background cues, <stem>.png (sets data.cues)")
        ->check(CLI::ExistingDirectory);
  }
  if (kind == "regressor") {
    cmd->add_option("--boxes", args->boxes,
                    "pseudo boxes: extract-boxes' boxes.jsonl or its folder (sets data.boxes)")
        ->check(CLI::ExistingPath);
  }
  cmd->footer(std::string(kTrainFooter) + examples);
  cmd->callback([args, action] {
    *action = [args] {
      ConfigOptions options = args->cfg;
      if (!args->kind.empty()) options.overrides.push_back("model.kind=" + args->kind);
      if (!args->cues.empty()) options.overrides.push_back("data.cues=" + args->cues);
      if (!args->boxes.empty()) options.overrides.push_back("data.boxes=" + args->boxes);
      return run_job(
          options,
          [args](Job& job) {
            // Rank 0 watches the run: sessions.jsonl, TensorBoard events from every metrics line
            // (docs/monitoring.md).
            const std::optional<int64_t> start =
                job.root() ? resume_start_step(args->resume, job.cfg.run.out) : std::optional<int64_t>(0);
            RunMonitor monitor(job.cfg, job.ctx, job.cfg.run.out, args->command, start, job.log);
            monitor.attach(job.log);
            monitor.text("config", start.value_or(0), config_markdown(job.cfg));
            const train::TrainResult r = train::train(job.cfg, job.ctx, args->resume, job.log,
                                                      periodic_eval(job.cfg, job.log, monitor));
            monitor.log_summary();
            if (job.root()) {
              fmt::print("{} {} steps; checkpoint: {}\n", r.preempted ? "preempted after" : "trained",
                         r.steps, r.checkpoint);
            }
            return r.preempted ? kExitPreempted : kExitOk;
          },
          /*with_comm=*/false);
    };
  });
}

}  // namespace

}  // namespace c2am::cli
