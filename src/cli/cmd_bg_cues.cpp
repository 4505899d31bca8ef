// Implements: `c2am bg-cues`: background cues from C²AM maps, thresholded and
// refined by the dense CRF (wsss/bg_cues.h).
#include <fmt/core.h>

#include "cli/commands.h"
#include "comm/communicator.h"
#include "comm/context.h"
#include "util/log.h"
#include "wsss/bg_cues.h"

namespace c2am::cli {

namespace {
struct BgCuesArgs {
  ConfigOptions cfg;
  wsss::BgCuesOptions opts;
};
}  // namespace

void add_bg_cues(CLI::App& app, Action* action) {
  auto* a = new BgCuesArgs();
  CLI::App* cmd =
      app.add_subcommand("bg-cues", "WSSS: background cues (threshold + dense CRF) from C²AM maps");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--maps", a->opts.maps_dir, "the folder c2am infer-maps wrote (maps.h5, else <stem>.png)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--out", a->opts.out_dir, "output folder: <stem>.png, 255 = foreground")->required();
  cmd->add_option("--split", a->opts.split, "which split (the images the CRF looks at)")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_flag("--force", a->opts.force, "discard earlier parts in OUT and start over");
  cmd->footer(
      "Foreground where the map > wsss.cue_threshold (0.3), then wsss.crf_iterations (10) mean-field steps "
      "of the\n"
      "dense CRF (wsss.crf_*: the method doc's kernels). Threads: --threads; ranks: mpirun/srun; resumable.\n"
      "Example: c2am bg-cues -c configs/synth_voc.toml --data runs/wsss/data --maps runs/wsss/maps -o "
      "runs/wsss/cues");
  cmd->callback([a, action] {
    *action = [a] {
      return run_job(a->cfg, [a](Job& job) {
        const wsss::BgCuesResult r = wsss::bg_cues(job.cfg, a->opts, *job.comm, job.log);
        if (!job.root()) return 0;
        fmt::print("maps            {}\n", r.maps_source);
        fmt::print("images          {} ({} resumed, {} computed now, {} ranks)\n", r.total, r.resumed,
                   r.processed, job.ctx.world);
        if (r.processed > 0) {
          fmt::print(
              "foreground      {:.1f}% of pixels after the threshold, {:.1f}% after the CRF (rank 0's "
              "images)\n",
              100 * r.foreground_before, 100 * r.foreground_after);
        }
        fmt::print("speed           {:.2f} images/s ({:.1f} s)\n",
                   r.seconds > 0 ? static_cast<double>(r.processed) / r.seconds : 0.0, r.seconds);
        fmt::print("cues            {}\n", a->opts.out_dir);
        return 0;
      });
    };
  });
}

}  // namespace c2am::cli
