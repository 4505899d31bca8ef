// Implements: `c2am eval-wsol`: CorLoc / GT-known Loc and MaxBoxAccV2 of a
// checkpoint on a test split, heatmap overlays, metrics.json.
#include <fmt/core.h>

#include "cli/commands.h"
#include "eval/wsol_eval.h"
#include "util/log.h"

namespace c2am::cli {

namespace {
struct EvalArgs {
  ConfigOptions cfg;
  eval::WsolEvalOptions opts;
};
}  // namespace

void add_eval_wsol(CLI::App& app, Action* action) {
  auto* a = new EvalArgs();
  CLI::App* cmd = app.add_subcommand("eval-wsol", "evaluate localization: CorLoc (GT-known Loc), MaxBoxAccV2");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--ckpt", a->opts.checkpoint, "checkpoint file, or run folder (its newest valid checkpoint)")
      ->required();
  cmd->add_option("-o,--out", a->opts.out_dir, "output folder (metrics.json, heatmaps/)")->required();
  cmd->add_option("--heatmaps", a->opts.heatmaps, "heatmap overlays to write (0 = none)")->capture_default_str();
  cmd->footer(
      "Writes OUT/metrics.json and OUT/heatmaps/*.png (red: predicted box at the best tau, green: ground truth);\n"
      "stores the best tau in the checkpoint next to its polarity.\n"
      "Example: c2am eval-wsol -c configs/synth_demo.toml --data runs/demo/data --ckpt runs/demo -o runs/demo/eval");
  cmd->callback([a, action] {
    *action = [a] {
      const config::Config cfg = resolve_config(a->cfg);
      util::Logger log;
      const eval::WsolEvalResult r = eval::evaluate_wsol(cfg, a->opts, log);
      fmt::print("checkpoint      {} (polarity {})\n", r.checkpoint, r.polarity ? "negative" : "positive");
      fmt::print("images          {}\n", r.corloc.total);
      fmt::print("CorLoc          {:.2f}%  (best tau {:.2f})\n", r.corloc.best_accuracy, r.corloc.best_threshold);
      fmt::print("centred box     {:.2f}%  (baseline: a centred box of the mean ground-truth size)\n",
                 r.centre_baseline);
      fmt::print("MaxBoxAccV2     {:.2f}%  (IoU 0.3/0.5/0.7: {:.2f} / {:.2f} / {:.2f})\n",
                 r.maxboxacc.max_box_acc_v2, r.maxboxacc.max_box_acc[0], r.maxboxacc.max_box_acc[1],
                 r.maxboxacc.max_box_acc[2]);
      fmt::print("metrics         {}/metrics.json\n", a->opts.out_dir);
      if (!r.heatmap_files.empty()) fmt::print("heatmaps        {}\n", r.heatmap_files.back());
      return 0;
    };
  });
}

}  // namespace c2am::cli
