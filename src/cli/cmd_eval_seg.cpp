// Implements: `c2am eval-seg`: mIoU, FP and FN rates and per-class IoU of
// pseudo masks, or of CAMs refined with cues or a sweep of constant
// background thresholds (wsss/seg_eval.h). With -o: a sample sheet and
// TensorBoard events of the scores and the sweep (cli/monitoring.h).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "cli/monitoring.h"
#include "cli/seg_samples.h"
#include "comm/context.h"
#include "util/log.h"
#include "util/threads.h"
#include "wsss/seg_eval.h"

namespace c2am::cli {

namespace {

struct EvalSegArgs {
  ConfigOptions cfg;
  wsss::EvalSegOptions opts;
  double bg_threshold = -1;
};

void print_scores(const std::string& what, const wsss::SegScores& s) {
  fmt::print("{:<28} mIoU {:6.2f}%  FP {:.4f}  FN {:.4f}  ({} classes scored)\n", what, 100 * s.miou, s.fp,
             s.fn, s.classes_scored);
}

void print_per_class(const wsss::SegScores& s) {
  const auto& names = wsss::voc_class_names();
  for (size_t k = 0; k < s.iou.size(); ++k) {
    if (std::isnan(s.iou[k])) continue;
    fmt::print("  {:<14} {:6.2f}%\n", k < names.size() ? names[k] : fmt::format("class {}", k),
               100 * s.iou[k]);
  }
}

std::string scores_fields(const wsss::SegScores& s) {
  auto num = [](double v) { return std::isnan(v) ? std::string("null") : fmt::format("{}", v); };
  return fmt::format(R"({{"miou":{},"fp":{},"fn":{},"pixel_accuracy":{}}})", num(s.miou), num(s.fp), num(s.fn),
                     num(s.pixel_accuracy));
}

// The scores as scalars "seg/<source>/{miou,fp,fn,pixel_accuracy}" at step 0,
// the sweep as "seg_sweep/{miou,fp,fn}" at step = round(threshold * 100), the sample sheet.
void write_events(RunMonitor& monitor, const config::Config& cfg, const wsss::EvalSegResult& r,
                  const std::string& samples_png) {
  std::vector<std::string> parts;
  if (r.pred) parts.push_back(R"("pred":)" + scores_fields(*r.pred));
  if (r.cues) parts.push_back(R"("cues":)" + scores_fields(*r.cues));
  if (r.constant) parts.push_back(R"("constant":)" + scores_fields(*r.constant));
  if (r.best) {
    parts.push_back(R"("best_constant":)" + scores_fields(r.best->scores));
    parts.push_back(fmt::format(R"("best_bg_threshold":{})", r.best->threshold));
  }
  monitor.metrics_line(fmt::format(R"({{"kind":"seg","step":0,"images":{},{}}})", r.images, fmt::join(parts, ",")));
  for (const wsss::SweepPoint& p : r.sweep) {
    monitor.scalars(std::llround(p.threshold * 100),
                    {{"seg_sweep/miou", p.scores.miou}, {"seg_sweep/fp", p.scores.fp}, {"seg_sweep/fn", p.scores.fn}});
  }
  monitor.image_file("seg/samples", 0, samples_png);
  monitor.text("config", 0, config_markdown(cfg));
}

}  // namespace

void add_eval_seg(CLI::App& app, Action* action) {
  auto* a = new EvalSegArgs();
  CLI::App* cmd = app.add_subcommand("eval-seg", "WSSS: mIoU, FP, FN of pseudo masks or of refined CAMs");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--pred", a->opts.pred_dir, "label maps to score, <stem>.png (e.g. c2am refine-cams)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--cams", a->opts.cams_dir, "or class CAMs to score, <stem>.h5, refined on the fly")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--cues", a->opts.cues_dir, "with --cams: refine with these background cues")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--sweep", a->opts.sweep, "with --cams: every constant background threshold (best reported)");
  cmd->add_option("--thresholds", a->opts.thresholds, "sweep thresholds (default 0.05,0.10,...,0.75)")
      ->delimiter(',');
  cmd->add_option(
         "--bg-threshold", a->bg_threshold,
         "with --cams, no cues, no sweep: the constant background score (default: wsss.bg_threshold)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--gt", a->opts.gt_dir,
                  "ground truth: label PNGs <stem>.png (e.g. VOC2012/SegmentationClass)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--split", a->opts.split, "with --data: the packed split whose masks are the ground truth")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--list", a->opts.list_file,
                  "image ids, one per line (default: every prediction / CAM file)")
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", a->opts.out_dir, "folder for metrics.json");
  cmd->footer(
      "Ground truth: --gt DIR, or --data DIR (a packed VOC folder) with --split. Pixels labelled 255 are "
      "ignored;\n"
      "IoU = TP / (T + P - TP); FP, FN = means over the foreground classes (the reference's definitions).\n"
      "Example: c2am eval-seg --pred runs/wsss/pseudo_masks --data runs/wsss/data --split train -o "
      "runs/wsss/eval\n"
      "Example: c2am eval-seg --cams runs/wsss/cams --cues runs/wsss/cues --sweep --data runs/wsss/data "
      "--split train");
  cmd->callback([a, cmd, action] {
    const bool have_data = cmd->count("--data") > 0;
    *action = [a, have_data] {
      const config::Config cfg = resolve_config(a->cfg);
      if (have_data || !cfg.data.root.empty()) a->opts.data = cfg.data;
      a->opts.bg_threshold = a->bg_threshold >= 0 ? a->bg_threshold : cfg.wsss.bg_threshold;
      a->opts.threads = util::resolve_threads(cfg.run.threads);
      util::Logger log;
      const wsss::EvalSegResult r = wsss::eval_seg(a->opts, log);
      fmt::print("images          {} (ground truth: {})\n", r.images, r.gt_source);
      if (r.pred) print_scores("pseudo masks", *r.pred);
      if (r.cues) print_scores("CAMs + background cues", *r.cues);
      if (r.constant)
        print_scores(fmt::format("CAMs + constant bg {:.2f}", a->opts.bg_threshold), *r.constant);
      for (const wsss::SweepPoint& p : r.sweep)
        print_scores(fmt::format("  CAMs + constant bg {:.2f}", p.threshold), p.scores);
      if (r.best)
        print_scores(fmt::format("CAMs + best constant bg {:.2f}", r.best->threshold), r.best->scores);
      const wsss::SegScores* main = r.pred       ? &*r.pred
                                    : r.cues     ? &*r.cues
                                    : r.constant ? &*r.constant
                                    : r.best     ? &r.best->scores
                                                 : nullptr;
      if (main) print_per_class(*main);
      if (!r.metrics_file.empty()) fmt::print("metrics         {}\n", r.metrics_file);
      if (!a->opts.out_dir.empty()) {
        const std::string samples = a->opts.out_dir + "/samples.png";
        std::remove(samples.c_str());  // a sheet from an earlier run would show other files
        try {
          if (write_seg_samples(a->opts, samples) > 0) fmt::print("samples         {}\n", samples);
        } catch (const std::exception& e) {
          log.warn("no sample sheet: {}", e.what());
        }
        RunMonitor monitor(cfg, comm::context(), a->opts.out_dir, "eval-seg", /*start_step=*/0, log);
        write_events(monitor, cfg, r, samples);
        if (monitor.tensorboard()) fmt::print("tensorboard     {}\n", monitor.tb_dir());
      }
      return 0;
    };
  });
}

}  // namespace c2am::cli
