// Implements: the registry of `c2am` subcommands. Each cmd_*.cpp adds one
// subcommand to the CLI11 app and sets the action run when it is chosen.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/context.h"
#include "config/config.h"
#include "util/log.h"

namespace c2am::cli {

using Action = std::function<int()>;

// Options that every config-driven command shares, spelled the same everywhere.
struct ConfigOptions {
  std::vector<std::string> files;      // -c, --config (repeatable)
  std::vector<std::string> overrides;  // --set key.path=value (repeatable)
  std::string data;                    // --data DIR -> data.root
  std::string out;                     // -o, --out PATH -> run.out
  int threads = 0;                     // --threads N -> run.threads
};
void add_config_options(CLI::App* cmd, ConfigOptions* opts, bool with_out = true);
// Files, then --set, then the dedicated flags (--data, --out, --threads) last.
config::Config resolve_config(const ConfigOptions& opts);

// What a command run on every rank of a job starts from: the resolved
// config, this process's place in the job, its logger, and a communicator
// for the command's control values and barriers (on the CPU).
struct Job {
  Job(const config::Config& resolved, const comm::Context& context)
      : cfg(resolved), ctx(context), log(context.rank, context.world) {}
  config::Config cfg;
  const comm::Context& ctx;
  util::Logger log;
  std::unique_ptr<comm::Communicator> comm;
  bool root() const { return ctx.rank == 0; }
};
// The distributed-command boilerplate, once: resolve the config, build the
// Job (with a communicator unless `with_comm` is false, for commands that
// make their own), run `body` on every rank; `body` prints its summary when
// job.root() and returns the exit status.
int run_job(const ConfigOptions& opts, const std::function<int(Job&)>& body, bool with_comm = true);

void add_synth(CLI::App& app, Action* action);
void add_config(CLI::App& app, Action* action);
void add_train(CLI::App& app, Action* action);  // train, train-classifier, train-saliency
void add_eval_wsol(CLI::App& app, Action* action);
void add_extract_boxes(CLI::App& app, Action* action);
void add_parity(CLI::App& app, Action* action);
void add_pack(CLI::App& app, Action* action);
void add_verify(CLI::App& app, Action* action);
void add_convert_cams(CLI::App& app, Action* action);
void add_infer(CLI::App& app, Action* action);  // infer-maps, infer-cams, predict-saliency
void add_bg_cues(CLI::App& app, Action* action);
void add_refine_cams(CLI::App& app, Action* action);
void add_eval_seg(CLI::App& app, Action* action);
void add_bench(CLI::App& app, Action* action);  // bench train
void add_report(CLI::App& app, Action* action);

}  // namespace c2am::cli
