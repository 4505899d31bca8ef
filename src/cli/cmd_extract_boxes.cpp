// Implements: `c2am extract-boxes`: one pseudo box per image of a split at
// one tau (the CorLoc protocol), in original pixels, as JSON lines and in the
// reference's PSOL format; resumable, split over the ranks of a launcher.
#include <fmt/core.h>

#include "cli/commands.h"
#include "comm/communicator.h"
#include "comm/context.h"
#include "eval/extract_boxes.h"
#include "util/log.h"

namespace c2am::cli {

namespace {
struct ExtractArgs {
  ConfigOptions cfg;
  eval::ExtractBoxesOptions opts;
  double threshold = -1.0;
};
}  // namespace

void add_extract_boxes(CLI::App& app, Action* action) {
  auto* a = new ExtractArgs();
  CLI::App* cmd =
      app.add_subcommand("extract-boxes", "pseudo boxes for every image of a split (PSOL-style regressors)");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--ckpt", a->opts.checkpoint,
                  "checkpoint file, or run folder (its newest valid checkpoint)")
      ->required();
  cmd->add_option("-o,--out", a->opts.out_dir, "output folder (parts/, boxes.jsonl, pseudo_boxes.json)")
      ->required();
  cmd->add_option("--split", a->opts.split, "which split")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--threshold", a->threshold, "tau in [0, 1] (default: the checkpoint's best_threshold)")
      ->check(CLI::Range(0.0, 1.0))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_flag("--force", a->opts.force, "discard earlier parts in OUT and start over");
  cmd->add_option("--psol-root", a->opts.psol_root,
                  "prefix of the keys of pseudo_boxes.json: the PSOL data root (default: relative keys)");
  cmd->footer(
      "Writes OUT/boxes.jsonl (one box per image, original pixels, sorted by index) and "
      "OUT/pseudo_boxes.json\n"
      "(the reference's PSOL format: key -> [x, y, w, h] / image size); a rerun resumes from OUT/parts/.\n"
      "Runs under mpirun/srun with each rank taking its share. Formats: docs/wsol.md.\n"
      "Example: c2am extract-boxes -c configs/synth_demo.toml --data runs/demo/data --ckpt runs/demo "
      "-o runs/demo/boxes");
  cmd->callback([a, cmd, action] {
    if (cmd->count("--threshold") > 0) a->opts.threshold = a->threshold;
    *action = [a] {
      return run_job(a->cfg, [a](Job& job) {
        const eval::ExtractBoxesResult r = eval::extract_boxes(job.cfg, a->opts, *job.comm, job.log);
        if (!job.root()) return 0;
        fmt::print("checkpoint      {} (polarity {})\n", r.checkpoint, r.polarity ? "negative" : "positive");
        fmt::print("threshold       {}\n", r.threshold);
        fmt::print("images          {} ({} resumed, {} computed now, {} ranks)\n", r.written, r.resumed,
                   r.processed, job.ctx.world);
        fmt::print("speed           {:.1f} images/s ({:.1f} s)\n",
                   r.seconds > 0 ? static_cast<double>(r.processed) / r.seconds : 0.0, r.seconds);
        fmt::print("boxes           {}\n", r.boxes_file);
        fmt::print("PSOL boxes      {}\n", r.psol_file);
        return 0;
      });
    };
  });
}

}  // namespace c2am::cli
