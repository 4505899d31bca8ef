// Implements: `c2am config`: print the resolved configuration as TOML.
#include <fmt/core.h>

#include "cli/commands.h"

namespace c2am::cli {

void add_config(CLI::App& app, Action* action) {
  auto* opts = new ConfigOptions();  // lives as long as the process
  CLI::App* cmd = app.add_subcommand("config", "print the resolved configuration (defaults, files, --set) as TOML");
  add_config_options(cmd, opts);
  cmd->footer("Example: c2am config -c configs/cub.toml --set train.lr=2e-4");
  cmd->callback([opts, action] {
    *action = [opts] {
      fmt::print("{}", config::to_toml(resolve_config(*opts)));
      return 0;
    };
  });
}

}  // namespace c2am::cli
