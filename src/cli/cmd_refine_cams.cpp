// Implements: `c2am refine-cams`: pseudo masks from class CAMs and background
// cues (wsss/seg_eval.h).
#include <fmt/core.h>

#include "cli/commands.h"
#include "util/log.h"
#include "util/threads.h"
#include "wsss/seg_eval.h"

namespace c2am::cli {

namespace {
struct RefineArgs {
  ConfigOptions cfg;
  wsss::RefineCamsOptions opts;
  double bg_threshold = -1;
};
}  // namespace

void add_refine_cams(CLI::App& app, Action* action) {
  auto* a = new RefineArgs();
  CLI::App* cmd = app.add_subcommand("refine-cams", "WSSS: pseudo masks from class CAMs and background cues");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--cams", a->opts.cams_dir, "class CAMs, <stem>.h5 (c2am infer-cams, c2am convert-cams)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--cues", a->opts.cues_dir,
                  "background cues, <stem>.png, 255 = foreground (c2am bg-cues, "
                  "c2am predict-saliency); without: a constant background score")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--out", a->opts.out_dir, "output folder: <stem>.png VOC palette masks")->required();
  cmd->add_option("--bg-threshold", a->bg_threshold,
                  "constant background score without cues (default: wsss.bg_threshold)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--list", a->opts.list_file, "image ids, one per line (default: every CAM file)")
      ->check(CLI::ExistingFile);
  cmd->footer(
      "Background score 1 - cue/255 (or the constant) in front of the CAMs; argmax = pseudo mask (0 = "
      "background,\n"
      "k = VOC class k; ties to the background). Formats: docs/wsss.md, docs/cams.md.\n"
      "Example: c2am refine-cams --cams runs/wsss/cams --cues runs/wsss/cues -o runs/wsss/pseudo_masks");
  cmd->callback([a, action] {
    *action = [a] {
      const config::Config cfg = resolve_config(a->cfg);
      a->opts.bg_threshold = a->bg_threshold >= 0 ? a->bg_threshold : cfg.wsss.bg_threshold;
      a->opts.threads = util::resolve_threads(cfg.run.threads);
      util::Logger log;
      const wsss::RefineCamsResult r = wsss::refine_cams(a->opts, log);
      fmt::print("pseudo masks    {} images in {} ({:.1f} s)\n", r.images, a->opts.out_dir, r.seconds);
      return 0;
    };
  });
}

}  // namespace c2am::cli
