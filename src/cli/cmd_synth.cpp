// Implements: `c2am synth LAYOUT OUT`: write a synthetic dataset in a raw
// layout users already have (CUB-200-2011, ILSVRC2012, VOC2012).
#include <fmt/core.h>

#include "cli/commands.h"
#include "synth/synth.h"

namespace c2am::cli {

namespace {
struct SynthArgs {
  synth::SynthOptions opts;
  std::string out;
};
}  // namespace

void add_synth(CLI::App& app, Action* action) {
  auto* a = new SynthArgs();
  CLI::App* cmd = app.add_subcommand(
      "synth", "write a synthetic dataset (textured objects on clutter, exact boxes/masks) in a raw layout");
  cmd->add_option("layout", a->opts.layout, "cub | imagenet | voc")
      ->required()
      ->check(CLI::IsMember({"cub", "imagenet", "voc"}));
  cmd->add_option("out", a->out, "output folder (must not exist or be empty)")->required();
  cmd->add_option("--train", a->opts.num_train, "training images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--test", a->opts.num_test, "test/val images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--classes", a->opts.num_classes, "object classes")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--min-size", a->opts.min_size, "smallest image side")->capture_default_str();
  cmd->add_option("--max-size", a->opts.max_size, "largest image side")->capture_default_str();
  cmd->add_option("--seed", a->opts.seed, "random seed (same seed, same bytes)")->capture_default_str();
  cmd->add_option("--quality", a->opts.quality, "JPEG quality")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--threads", a->opts.threads, "worker threads (the output does not depend on it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->footer("Example: c2am synth cub runs/demo/data --train 800 --test 200 --seed 1");
  cmd->callback([a, action] {
    *action = [a] {
      const synth::SynthSummary s = synth::generate(a->opts, a->out);
      fmt::print("{}: {} layout, {} train + {} test images, {} classes, {} objects\n", s.root, s.layout,
                 s.num_train, s.num_test, s.num_classes, s.num_objects);
      return 0;
    };
  });
}

}  // namespace c2am::cli
