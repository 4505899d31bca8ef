// Implements: the option spellings shared by every config-driven command,
// and the start of a command run on every rank (run_job).
#include "cli/commands.h"

namespace c2am::cli {

void add_config_options(CLI::App* cmd, ConfigOptions* opts, bool with_out) {
  cmd->add_option("-c,--config", opts->files, "TOML config file (repeatable; later files override)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", opts->overrides, "override one key, key.path=value (repeatable, applied last)");
  cmd->add_option("--data", opts->data, "dataset folder (sets data.root)");
  if (with_out) cmd->add_option("-o,--out", opts->out, "run folder (sets run.out)");
  cmd->add_option("--threads", opts->threads, "CPU threads, intra-op and loader (sets run.threads; 0 = all)")
      ->check(CLI::NonNegativeNumber);
}

config::Config resolve_config(const ConfigOptions& opts) {
  std::vector<std::string> overrides = opts.overrides;
  if (!opts.data.empty()) overrides.push_back("data.root=" + opts.data);
  if (!opts.out.empty()) overrides.push_back("run.out=" + opts.out);
  if (opts.threads > 0) overrides.push_back("run.threads=" + std::to_string(opts.threads));
  return config::load(opts.files, overrides);
}

int run_job(const ConfigOptions& opts, const std::function<int(Job&)>& body, bool with_comm) {
  Job job(resolve_config(opts), comm::context());
  if (with_comm) job.comm = comm::make_communicator(job.ctx, job.cfg.dist, torch::kCPU);
  return body(job);
}

}  // namespace c2am::cli
