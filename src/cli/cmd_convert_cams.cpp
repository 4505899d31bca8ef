// Implements: `c2am convert-cams SRC -o OUT`: per-image CAM .npy files of
// Python WSSS code bases (IRN, PuzzleCAM, the C²AM authors' code) into our
// per-image class-CAM files (docs/cams.md), resumable.
#include <fmt/core.h>

#include "cli/commands.h"
#include "cams/convert_cams.h"
#include "util/error.h"
#include "util/log.h"

namespace c2am::cli {

void add_convert_cams(CLI::App& app, Action* action) {
  auto* o = new cams::ConvertCamsOptions();
  CLI::App* cmd = app.add_subcommand(
      "convert-cams",
      "convert per-image CAM .npy files (IRN, PuzzleCAM, C²AM code) into c2am CAM files (resumable)");
  cmd->add_option("source", o->source,
                  "folder of <image id>.npy files written by np.save({'keys': ..., ...})")
      ->required();
  cmd->add_option("-o,--out", o->out, "folder of <image id>.h5 CAM files to write (created; rerun to resume)")
      ->required();
  cmd->add_option("--keys", o->keys,
                  "key convention: zero-based (IRN: keys = class indices 0..19, one per map), padded (C²AM / "
                  "PuzzleCAM: [0, k1 + 1, ...]) or auto (from len(keys) vs the number of maps)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "zero-based", "padded"}));
  cmd->add_option("--cam-key", o->cam_key, "the dict entry holding the maps (auto: high_res, else hr_cam)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "high_res", "hr_cam", "cam"}));
  cmd->add_flag("--float32", o->float32, "store the maps as float32 (default float16)");
  cmd->add_option("--threads", o->threads, "conversion threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--force", o->force, "convert again files whose output already exists");
  cmd->add_flag("--skip-bad", o->skip_bad,
                "report bad input files and go on (default: stop at the first, exit 1)");
  cmd->footer(
      "Writes OUT/<stem>.h5 for every SRC/<stem>.npy: /keys int32 (VOC class indices, background excluded),\n"
      "/cams (K, H, W) float16 in [0, 1]; format in docs/cams.md. Existing valid outputs are skipped.\n"
      "Example: c2am convert-cams irn/result/cam -o runs/voc/cams --threads 8");
  cmd->callback([o, action] {
    *action = [o] {
      const util::Logger log;
      const cams::ConvertCamsResult r = cams::convert_cams(*o, log);
      fmt::print(
          "{}: {} converted, {} skipped (already converted), {} failed, in {:.1f} s ({:.1f} images/s){}\n",
          o->out, r.converted, r.skipped, r.failed, r.seconds,
          r.seconds > 0 ? static_cast<double>(r.converted) / r.seconds : 0.0,
          r.clipped_values > 0 ? fmt::format("; {} values clipped to [0, 1]", r.clipped_values) : "");
      return kExitOk;
    };
  });
}

}  // namespace c2am::cli
