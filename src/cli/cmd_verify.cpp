// Implements: `c2am verify DIR`: check a packed dataset against its manifest
// (schema, counts, per-image and per-shard checksums; with --decode, that
// every image decodes). Problems go to stderr, the summary to stdout.
#include <fmt/core.h>

#include <algorithm>
#include <thread>

#include "cli/commands.h"
#include "data/shards.h"
#include "util/error.h"

namespace c2am::cli {

namespace {
struct VerifyArgs {
  std::string dir;
  bool decode = false;
  int threads = 0;
};
}  // namespace

void add_verify(CLI::App& app, Action* action) {
  auto* a = new VerifyArgs();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "check a packed dataset against its manifest: counts, checksums, and with --decode every image");
  cmd->add_option("dir", a->dir, "the packed folder (holding manifest.json)")->required();
  cmd->add_flag("--decode", a->decode, "also decode every image (slower; finds images that do not decode)");
  cmd->add_option("--threads", a->threads, "checking threads (0 = all cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->footer("Example: c2am verify data/cub-packed/train --decode --threads 8");
  cmd->callback([a, action] {
    *action = [a] {
      const int threads =
          a->threads > 0 ? a->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      const data::Manifest m = data::read_manifest(a->dir);
      const data::VerifyReport r = data::verify_packed(a->dir, a->decode, threads);
      for (const std::string& p : r.problems) fmt::print(stderr, "c2am verify: {}\n", p);
      if (m.version < data::kShardFormatVersion)
        fmt::print(stderr,
                   "c2am verify: note: '{}' is in shard format {}: its labels, sizes, names, boxes and masks "
                   "carry no checksum and its manifest no header checked before libhdf5 reads a shard "
                   "(docs/data-format.md, Versioning); repack it with c2am pack --force for format {}\n",
                   a->dir, m.version, data::kShardFormatVersion);
      fmt::print("{}: {} {} split, {} images in {} shard(s), plan {}: {}{}\n", a->dir, m.layout, m.split,
                 r.images, m.shards.size(), m.plan_id,
                 r.problems.empty() ? "checksums OK" : fmt::format("{} problem(s)", r.problems.size()),
                 a->decode ? fmt::format(", {} decoded", r.decoded) : std::string());
      return r.problems.empty() ? kExitOk : kExitFailure;
    };
  });
}

}  // namespace c2am::cli
