// Implements: the `c2am` executable: one binary, git-style subcommands.
// Catches every error, reports it and exits with the documented status
// (0 ok, 2 usage/config, 1 other failures, 75 preempted); under an MPI
// launcher an error on one rank ends every rank (comm::end_process).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "comm/context.h"
#include "util/error.h"
#include "util/memory.h"

#ifndef C2AM_VERSION
#define C2AM_VERSION "unknown"
#endif

namespace {

int run(int argc, char** argv) {
  CLI::App app{"c2am: C²AM (contrastive class-agnostic activation maps) training and evaluation"};
  app.set_version_flag("--version", std::string("c2am ") + C2AM_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'c2am <command> --help' for a command's options and an example.");
  c2am::cli::Action action;
  c2am::cli::add_synth(app, &action);
  c2am::cli::add_config(app, &action);
  c2am::cli::add_train(app, &action);
  c2am::cli::add_eval_wsol(app, &action);
  c2am::cli::add_extract_boxes(app, &action);
  c2am::cli::add_parity(app, &action);
  c2am::cli::add_pack(app, &action);
  c2am::cli::add_verify(app, &action);
  c2am::cli::add_convert_cams(app, &action);
  c2am::cli::add_infer(app, &action);
  c2am::cli::add_bg_cues(app, &action);
  c2am::cli::add_refine_cams(app, &action);
  c2am::cli::add_eval_seg(app, &action);
  c2am::cli::add_bench(app, &action);
  c2am::cli::add_report(app, &action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? c2am::kExitOk : c2am::kExitUsage;
  }
  const c2am::comm::Context& ctx = c2am::comm::init();
  const std::string command = app.get_subcommands().front()->get_name();
  // The commands that split their work over ranks; the others would repeat it.
  const std::vector<std::string> distributed = {
      "train",      "train-classifier", "train-saliency",   "train-regressor", "eval-wsol", "extract-boxes",
      "infer-maps", "infer-cams",       "predict-saliency", "bg-cues",         "pack"};
  if (ctx.world > 1 && std::find(distributed.begin(), distributed.end(), command) == distributed.end()) {
    throw c2am::UsageError(fmt::format("'c2am {}' runs as one process; start it without mpirun/srun", command));
  }
  return action();
}

}  // namespace

int main(int argc, char** argv) {
  c2am::util::reuse_freed_memory();  // before any large buffer (util/memory.h)
  try {
    return c2am::comm::end_process(run(argc, argv), nullptr);
  } catch (const c2am::UsageError& e) {
    return c2am::comm::end_process(c2am::kExitUsage, e.what());
  } catch (const std::exception& e) {
    return c2am::comm::end_process(c2am::kExitFailure, e.what());
  }
}
