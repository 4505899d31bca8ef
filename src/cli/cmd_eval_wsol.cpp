// Implements: `c2am eval-wsol`: CorLoc / GT-known Loc and MaxBoxAccV2 of a
// C²AM checkpoint on a test split, heatmap overlays, metrics.json; on rank 0
// the same figures, the threshold sweeps and the contact sheet as TensorBoard
// events in OUT/tb/ (cli/monitoring.h). With --regressor, GT-known Loc of a
// PSOL box regressor's boxes instead (eval/regressor_eval.h).
#include <fmt/core.h>

#include <cmath>

#include "cli/commands.h"
#include "cli/monitoring.h"
#include "comm/communicator.h"
#include "comm/context.h"
#include "eval/regressor_eval.h"
#include "eval/wsol_eval.h"
#include "util/error.h"
#include "util/log.h"

namespace c2am::cli {

namespace {
struct EvalArgs {
  ConfigOptions cfg;
  eval::WsolEvalOptions opts;
  std::string regressor;  // --regressor: evaluate a box regressor instead of C²AM maps
};

// The evaluation as TensorBoard events at the checkpoint's step: the figures
// as scalars "eval/...", the CorLoc and BoxAcc threshold sweeps as
// "eval_sweep/..." at step = round(tau * 100) and round(tau * 1000), the contact sheet.
void write_events(RunMonitor& monitor, const config::Config& cfg, const eval::WsolEvalResult& r,
                  const std::string& out_dir) {
  const int64_t step = checkpoint_step(r.checkpoint).value_or(0);
  std::string fields = fmt::format(
      R"("corloc":{},"best_threshold":{},"max_box_acc_v2":{},"centre_box":{},"images":{})", r.corloc.best_accuracy,
      r.corloc.best_threshold, r.maxboxacc.max_box_acc_v2, r.centre_baseline, r.corloc.total);
  for (size_t d = 0; d < r.maxboxacc.deltas.size(); ++d) {
    fields += fmt::format(R"(,"max_box_acc_iou_{:.1f}":{})", r.maxboxacc.deltas[d], r.maxboxacc.max_box_acc[d]);
  }
  if (r.topk.present) fields += fmt::format(R"(,"top1_loc":{},"top5_loc":{})", r.topk.top1_at_best, r.topk.top5_at_best);
  monitor.metrics_line(fmt::format(R"({{"kind":"eval","step":{},{}}})", step, fields));
  for (size_t t = 0; t < r.corloc.thresholds.size(); ++t) {
    monitor.scalar("eval_sweep/corloc", std::llround(r.corloc.thresholds[t] * 100), r.corloc.accuracy[t]);
  }
  for (size_t t = 0; t < r.maxboxacc.thresholds.size(); ++t) {
    std::vector<std::pair<std::string, double>> values;
    for (size_t d = 0; d < r.maxboxacc.deltas.size(); ++d) {
      values.emplace_back(fmt::format("eval_sweep/box_acc_iou_{:.1f}", r.maxboxacc.deltas[d]), r.maxboxacc.curves[d][t]);
    }
    monitor.scalars(std::llround(r.maxboxacc.thresholds[t] * 1000), values);
  }
  monitor.image_file("eval/heatmaps", step, out_dir + "/heatmaps.png");
  monitor.text("config", step, config_markdown(cfg));
}
// eval-wsol --regressor: the regressed boxes' figures, printed and as events.
int run_regressor(Job& job, const EvalArgs& a) {
  eval::RegressorEvalOptions o;
  o.checkpoint = a.regressor;
  o.out_dir = a.opts.out_dir;
  o.heatmaps = a.opts.heatmaps;
  o.class_predictions = a.opts.class_predictions;
  const eval::RegressorEvalResult r = eval::evaluate_regressor(job.cfg, o, *job.comm, job.log);
  if (!job.root()) return 0;
  RunMonitor monitor(job.cfg, job.ctx, o.out_dir, "eval-wsol", /*start_step=*/0, job.log);
  const int64_t step = checkpoint_step(r.checkpoint).value_or(0);
  std::string fields =
      fmt::format(R"("gt_known_loc":{},"box_acc_mean":{},"mean_iou":{},"centre_box":{},"images":{})",
                  r.gt_known_loc, r.box_acc_mean, r.mean_iou, r.centre_baseline, r.images);
  if (r.with_classes) fields += fmt::format(R"(,"top1_loc":{},"top5_loc":{})", r.top1_loc, r.top5_loc);
  monitor.metrics_line(fmt::format(R"({{"kind":"eval","step":{},{}}})", step, fields));
  if (!r.heatmap_files.empty()) monitor.image_file("eval/heatmaps", step, o.out_dir + "/heatmaps.png");
  fmt::print("regressor       {}\n", r.checkpoint);
  fmt::print("images          {}\n", r.images);
  fmt::print("GT-known Loc    {:.2f}%  (IoU > 0.5 with a ground-truth box)\n", r.gt_known_loc);
  fmt::print("centred box     {:.2f}%  (baseline: a centred box of the mean ground-truth size)\n",
             r.centre_baseline);
  fmt::print("BoxAcc          {:.2f}%  (IoU 0.3/0.5/0.7: {:.2f} / {:.2f} / {:.2f}), mean IoU {:.3f}\n",
             r.box_acc_mean, r.box_acc[0], r.box_acc[1], r.box_acc[2], r.mean_iou);
  if (r.with_classes) {
    fmt::print("Top-1 / Top-5 Loc {:.2f}% / {:.2f}%  (classification {:.2f}% / {:.2f}%)\n", r.top1_loc,
               r.top5_loc, r.top1_cls, r.top5_cls);
  }
  if (r.world > 1) fmt::print("ranks           {}\n", r.world);
  fmt::print("metrics         {}/metrics.json, boxes {}/boxes.jsonl\n", o.out_dir, o.out_dir);
  if (!r.heatmap_files.empty()) fmt::print("pictures        {}\n", r.heatmap_files.back());
  if (monitor.tensorboard()) fmt::print("tensorboard     {}\n", monitor.tb_dir());
  return 0;
}

}  // namespace

void add_eval_wsol(CLI::App& app, Action* action) {
  auto* a = new EvalArgs();
  CLI::App* cmd =
      app.add_subcommand("eval-wsol", "evaluate localization: CorLoc (GT-known Loc), MaxBoxAccV2");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  CLI::Option* ckpt = cmd->add_option("--ckpt", a->opts.checkpoint,
                                      "C²AM checkpoint file, or run folder (its newest valid checkpoint)");
  CLI::Option* regressor = cmd->add_option(
      "--regressor", a->regressor,
      "a box regressor's checkpoint or run folder (c2am train-regressor): GT-known Loc of its "
      "boxes instead of the maps' CorLoc");
  ckpt->excludes(regressor);
  regressor->excludes(ckpt);
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
      "runs/demo/eval\n"
      "Example: c2am eval-wsol -c configs/cub_psol.toml --data runs/cub/data --regressor runs/cub/psol -o "
      "runs/cub/psol/eval");
  cmd->callback([a, action] {
    *action = [a] {
      if (a->opts.checkpoint.empty() && a->regressor.empty())
        throw UsageError("eval-wsol: give --ckpt (a C²AM checkpoint) or --regressor (a box regressor's)");
      if (!a->regressor.empty()) return run_job(a->cfg, [a](Job& job) { return run_regressor(job, *a); });
      return run_job(a->cfg, [a](Job& job) {
        const eval::WsolEvalResult r = eval::evaluate_wsol(job.cfg, a->opts, *job.comm, job.log);
        if (!job.root()) return 0;
        RunMonitor monitor(job.cfg, job.ctx, a->opts.out_dir, "eval-wsol", /*start_step=*/0,
                           job.log);  // a rerun replaces the events
        write_events(monitor, job.cfg, r, a->opts.out_dir);
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
        if (monitor.tensorboard()) fmt::print("tensorboard     {}\n", monitor.tb_dir());
        return 0;
      });
    };
  });
}

}  // namespace c2am::cli
