// Implements: `c2am pack SRC -o OUT --layout L --split S`: pack one split of
// a raw layout into sharded HDF5 files plus manifest.json (docs/pack.md).
#include <fmt/core.h>

#include "cli/commands.h"
#include "data_prep/pack.h"
#include "util/log.h"

namespace c2am::cli {

void add_pack(CLI::App& app, Action* action) {
  auto* o = new data_prep::PackOptions();
  CLI::App* cmd = app.add_subcommand(
      "pack", "pack one split of a raw dataset layout into sharded HDF5 files + manifest.json (resumable)");
  cmd->add_option("source", o->source, "the layout's root folder (CUB_200_2011/, ILSVRC2012/, VOC2012/, ...)")
      ->required();
  cmd->add_option("-o,--out", o->out, "the packed folder to write (created; rerun to resume)")->required();
  cmd->add_option("--layout", o->layout, "the source layout: cub | imagenet | voc | folder")
      ->required()
      ->check(CLI::IsMember({"cub", "imagenet", "voc", "folder"}));
  cmd->add_option("--split", o->split, "which split: train | val | test")
      ->required()
      ->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--shard-size", o->shard_size, "images per shard")
      ->capture_default_str()
      ->check(CLI::Range(1, data_prep::kMaxShardSize));
  cmd->add_option("--threads", o->threads,
                  "reader/encoder threads (0 = all cores; the output does not depend on it)")
      ->capture_default_str()
      ->check(CLI::Range(0, data_prep::kMaxThreads));
  cmd->add_option(
         "--max-side", o->reencode_max_side,
         "re-encode images whose longer side exceeds PX down to PX (0 = store the files' bytes untouched)")
      ->capture_default_str()
      ->check(CLI::Range(0, data_prep::kMaxSide));
  cmd->add_option("--quality", o->jpeg_quality, "JPEG quality of re-encoded images")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--force", o->force,
                "repack from scratch even if OUT holds shards of another source or options");
  cmd->footer(
      "Example: c2am pack data/CUB_200_2011 -o data/cub-packed/train --layout cub --split train --threads 8");
  cmd->callback([o, action] {
    *action = [o] {
      const util::Logger log;
      const data_prep::PackResult r = data_prep::pack(*o, log);
      fmt::print(
          "{}: {} {} images in {} shard(s) ({} written, {} already complete), {:.1f} MB written in "
          "{:.1f} s ({:.1f} MB/s), plan {}\n",
          r.out, r.images, o->split, r.shards, r.shards_written, r.shards_skipped, r.bytes / 1e6, r.seconds,
          r.mb_per_s(), r.plan_id);
      return 0;
    };
  });
}

}  // namespace c2am::cli
