// Implements: `c2am train`: train C²AM as the config says.
#include <fmt/core.h>

#include "cli/commands.h"
#include "dist/context.h"
#include "eval/wsol_eval_net.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/log.h"

namespace c2am::cli {

namespace {
struct TrainArgs {
  ConfigOptions cfg;
  std::string resume;
};
}  // namespace

void add_train(CLI::App& app, Action* action) {
  auto* args = new TrainArgs();
  CLI::App* cmd = app.add_subcommand("train", "train C²AM (writes config.toml, metrics.jsonl, checkpoints/)");
  add_config_options(cmd, &args->cfg);
  cmd->add_option("--resume", args->resume,
                  "continue training: 'auto' (newest valid checkpoint of the run folder, if any) or a "
                  "checkpoint file / run folder");
  cmd->footer(
      "Distributed: start it with mpirun or srun --mpi=pmix (launch/mpirun.sh, launch/slurm/); "
      "train.batch_size is the global batch.\nSIGUSR1/SIGTERM: checkpoint at the next step and exit 75.\n"
      "Example: c2am train -c configs/synth_demo.toml --data runs/demo/data -o runs/demo --resume auto\n"
      "Example: launch/mpirun.sh -n 2 -- build/src/cli/c2am train -c configs/synth_demo.toml --data runs/demo/data "
      "-o runs/demo");
  cmd->callback([args, action] {
    *action = [args] {
      const config::Config cfg = resolve_config(args->cfg);
      const dist::Context& ctx = dist::context();
      util::Logger log(ctx.rank, ctx.world);
      util::Logger& mlog = log;
      auto evaluate = [&cfg, &mlog](model::C2amNetImpl& net, int polarity, int64_t epoch,
                                    const std::string& checkpoint, dist::Communicator& comm) {
        eval::WsolEvalOptions opts;
        opts.checkpoint = checkpoint;
        opts.out_dir = fmt::format("{}/eval/epoch-{:03d}", cfg.run.out, epoch);
        opts.heatmaps = cfg.eval.heatmaps;
        const eval::WsolEvalResult r = eval::evaluate_wsol_net(net, polarity, cfg, opts, comm, mlog);
        mlog.info("eval after epoch {}: CorLoc {:.2f}% (tau {:.2f}), MaxBoxAccV2 {:.2f}% -> {}", epoch,
                  r.corloc.best_accuracy, r.corloc.best_threshold, r.maxboxacc.max_box_acc_v2, opts.out_dir);
        mlog.metric(fmt::format(
            R"({{"kind":"eval","epoch":{},"corloc":{},"best_threshold":{},"max_box_acc_v2":{},"centre_box":{},"images":{}}})",
            epoch, r.corloc.best_accuracy, r.corloc.best_threshold, r.maxboxacc.max_box_acc_v2, r.centre_baseline,
            r.corloc.total));
      };
      const train::TrainResult r = train::train(cfg, ctx, args->resume, log, evaluate);
      if (ctx.rank == 0) {
        fmt::print("{} {} steps; checkpoint: {}\n", r.preempted ? "preempted after" : "trained", r.steps,
                   r.checkpoint);
      }
      return r.preempted ? kExitPreempted : kExitOk;
    };
  });
}

}  // namespace c2am::cli
