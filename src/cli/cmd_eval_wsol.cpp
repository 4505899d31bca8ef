// Implements: `c2am eval-wsol`: CorLoc / GT-known Loc and MaxBoxAccV2 of a
// checkpoint on a test split, heatmap overlays, metrics.json.
#include <fmt/core.h>

#include "cli/commands.h"
#include "comm/communicator.h"
#include "comm/context.h"
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
  CLI::App* cmd =
      app.add_subcommand("eval-wsol", "evaluate localization: CorLoc (GT-known Loc), MaxBoxAccV2");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--ckpt", a->opts.checkpoint,
                  "checkpoint file, or run folder (its newest valid checkpoint)")
      ->required();
  cmd->add_option("-o,--out", a->opts.out_dir, "output folder (metrics.json, heatmaps/)")->required();
  cmd->add_option("--heatmaps", a->opts.heatmaps, "heatmap overlays to write (0 = none)")
      ->capture_default_str();
  cmd->add_option(
      "--save-maps", a->opts.save_maps,
      "also write every image's score map (DIR/maps/<index>.png, 16-bit, map resolution) and its box at "
      "the best tau (DIR/boxes.jsonl)");
  cmd->add_option("--class-predictions", a->opts.class_predictions,
                  "per-image predicted classes ('name,c1,c2,...' lines, best first): adds Top-1 / Top-5 Loc")
      ->check(CLI::ExistingFile);
  cmd->footer(
      "Writes OUT/metrics.json and OUT/heatmaps/*.png (red: predicted box at the best tau, green: ground "
      "truth);\n"
      "stores the best tau in the checkpoint next to its polarity. Under mpirun/srun the ranks share the "
      "images\n"
      "and the counts are summed exactly. Formats: docs/wsol.md.\n"
      "Example: c2am eval-wsol -c configs/synth_demo.toml --data runs/demo/data --ckpt runs/demo -o "
      "runs/demo/eval");
  cmd->callback([a, action] {
    *action = [a] {
      return run_job(a->cfg, [a](Job& job) {
        const eval::WsolEvalResult r = eval::evaluate_wsol(job.cfg, a->opts, *job.comm, job.log);
        if (!job.root()) return 0;
        fmt::print("checkpoint      {} (polarity {})\n", r.checkpoint, r.polarity ? "negative" : "positive");
        fmt::print("images          {}\n", r.corloc.total);
        fmt::print("CorLoc          {:.2f}%  (best tau {:.2f})\n", r.corloc.best_accuracy,
                   r.corloc.best_threshold);
        fmt::print("centred box     {:.2f}%  (baseline: a centred box of the mean ground-truth size)\n",
                   r.centre_baseline);
        fmt::print("MaxBoxAccV2     {:.2f}%  (IoU 0.3/0.5/0.7: {:.2f} / {:.2f} / {:.2f})\n",
                   r.maxboxacc.max_box_acc_v2, r.maxboxacc.max_box_acc[0], r.maxboxacc.max_box_acc[1],
                   r.maxboxacc.max_box_acc[2]);
        if (r.topk.present) {
          fmt::print(
              "Top-1 / Top-5 Loc {:.2f}% / {:.2f}%  (at tau {:.2f}; classification {:.2f}% / {:.2f}%)\n",
              r.topk.top1_at_best, r.topk.top5_at_best, r.corloc.best_threshold, r.topk.top1_cls,
              r.topk.top5_cls);
        }
        if (r.world > 1) fmt::print("ranks           {}\n", r.world);
        fmt::print("metrics         {}/metrics.json\n", a->opts.out_dir);
        if (!a->opts.save_maps.empty())
          fmt::print("maps and boxes  {}/maps/, {}/boxes.jsonl\n", a->opts.save_maps, a->opts.save_maps);
        if (!r.heatmap_files.empty()) fmt::print("heatmaps        {}\n", r.heatmap_files.back());
        return 0;
      });
    };
  });
}

}  // namespace c2am::cli
