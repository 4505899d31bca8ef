// Implements: the three inference commands of the WSSS stage, one option set:
// `c2am infer-maps` (C²AM maps), `c2am infer-cams` (the classifier's CAMs) and
// `c2am predict-saliency` (refined background cues); see wsss/infer.h.
#include <fmt/core.h>

#include "cli/commands.h"
#include "comm/communicator.h"
#include "comm/context.h"
#include "util/log.h"
#include "wsss/infer.h"

namespace c2am::cli {

namespace {

struct InferArgs {
  ConfigOptions cfg;
  wsss::InferOptions opts;
  std::string format = "both";
};

using InferFn = wsss::InferResult (*)(const config::Config&, const wsss::InferOptions&, comm::Communicator&,
                                      const util::Logger&);

void add_infer_command(CLI::App& app, Action* action, const std::string& name, const std::string& about,
                       InferFn run, const std::string& footer) {
  auto* a = new InferArgs();
  CLI::App* cmd = app.add_subcommand(name, about);
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--ckpt", a->opts.checkpoint,
                  "checkpoint file, or run folder (its newest valid checkpoint)")
      ->required();
  cmd->add_option("-o,--out", a->opts.out_dir, "output folder")->required();
  cmd->add_option("--split", a->opts.split, "which split")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--scales", a->opts.scales,
                  name == "predict-saliency" ? "inference scales (default: 1.0)"
                                             : "inference scales (default: wsss.scales)")
      ->delimiter(',');
  if (name == "infer-maps") {
    cmd->add_option("--format", a->format, "png (8-bit), h5 (float16 maps.h5) or both")
        ->check(CLI::IsMember({"png", "h5", "both"}))
        ->capture_default_str();
  }
  cmd->add_flag("--force", a->opts.force, "discard earlier parts in OUT and start over");
  cmd->footer(footer +
              "\nRuns under mpirun/srun with each rank taking its share; a rerun resumes from OUT/parts/. "
              "Formats: docs/wsss.md.");
  cmd->callback([a, action, run, name] {
    *action = [a, run, name] {
      return run_job(a->cfg, [a, run, name](Job& job) {
        a->opts.png = a->format != "h5";
        a->opts.h5 = a->format != "png";
        a->opts.local_rank = job.ctx.local_rank;
        const wsss::InferResult r = run(job.cfg, a->opts, *job.comm, job.log);  // comm: counts and barriers
        if (!job.root()) return 0;
        fmt::print("checkpoint      {}{}\n", r.checkpoint,
                   name == "infer-maps"
                       ? fmt::format(" (polarity {})", r.polarity == 1 ? "negative" : "positive")
                       : "");
        fmt::print("images          {} ({} resumed, {} computed now, {} ranks)\n", r.total, r.resumed,
                   r.processed, job.ctx.world);
        fmt::print("speed           {:.2f} images/s ({:.1f} s)\n",
                   r.seconds > 0 ? static_cast<double>(r.processed) / r.seconds : 0.0, r.seconds);
        fmt::print("output          {}\n", a->opts.out_dir);
        return 0;
      });
    };
  });
}

}  // namespace

void add_infer(CLI::App& app, Action* action) {
  add_infer_command(
      app, action, "infer-maps", "WSSS: multi-scale C²AM maps of every image of a split", wsss::infer_maps,
      "Writes OUT/<stem>.png (8-bit, round(255 m)) and/or OUT/maps.h5 (float16, at image resolution).\n"
      "Example: c2am infer-maps -c configs/synth_voc.toml --data runs/wsss/data --ckpt runs/wsss/c2am "
      "-o runs/wsss/maps");
  add_infer_command(
      app, action, "infer-cams",
      "WSSS: multi-scale CAMs of the classifier for the classes present in each image", wsss::infer_cams,
      "Writes OUT/<stem>.h5 (the CAM store of docs/cams.md, the input of refine-cams).\n"
      "Example: c2am infer-cams -c configs/synth_voc.toml --data runs/wsss/data --ckpt runs/wsss/cls "
      "-o runs/wsss/cams");
  add_infer_command(app, action, "predict-saliency",
                    "WSSS: refined background cues from the saliency network", wsss::predict_saliency,
                    "Writes OUT/<stem>.png (8-bit saliency, 255 = foreground), usable wherever cues are.\n"
                    "Example: c2am predict-saliency -c configs/synth_voc.toml --data runs/wsss/data --ckpt "
                    "runs/wsss/sal -o runs/wsss/cues_refined");
}

}  // namespace c2am::cli
