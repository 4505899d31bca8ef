// Implements: `c2am train`: train C²AM as the config says.
#include <fmt/core.h>

#include "cli/commands.h"
#include "train/trainer.h"
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
      "Example: c2am train -c configs/synth_demo.toml --data runs/demo/data/CUB_200_2011 -o runs/demo "
      "--resume auto");
  cmd->callback([args, action] {
    *action = [args] {
      const config::Config cfg = resolve_config(args->cfg);
      util::Logger log;
      const train::TrainResult r = train::train(cfg, args->resume, log);
      fmt::print("trained {} steps; checkpoint: {}\n", r.steps, r.checkpoint);
      return 0;
    };
  });
}

}  // namespace c2am::cli
