// Implements: `c2am bench train`: training-step throughput and peak memory
// over batch sizes, on synthetic tensors or end to end from packed shards
// (train/bench_train.h). Results for docs/benchmarks.md.
#include <fmt/core.h>

#include "cli/commands.h"
#include "train/bench_train.h"
#include "util/fs.h"
#include "util/log.h"

namespace c2am::cli {

namespace {
struct BenchArgs {
  ConfigOptions cfg;
  train::BenchTrainOptions opts;
  bool end_to_end = false;
  std::string out;
};
}  // namespace

void add_bench(CLI::App& app, Action* action) {
  CLI::App* bench = app.add_subcommand("bench", "benchmarks (results go into docs/benchmarks.md)");
  bench->require_subcommand(1);
  bench->footer(
      "Example: c2am bench train --set model.arch=resnet50 --set run.device=cuda --set run.precision=bf16");
  auto* a = new BenchArgs();
  CLI::App* cmd =
      bench->add_subcommand("train", "images/s and peak memory of the training step over batch sizes");
  add_config_options(cmd, &a->cfg, /*with_out=*/false);
  cmd->add_option("--batches", a->opts.batches, "batch sizes (one process)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--size", a->opts.size, "synthetic image side")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--steps", a->opts.steps, "timed steps per batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--warmup", a->opts.warmup, "untimed steps first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--end-to-end", a->end_to_end,
                "read batches from the packed shards of --data through the CPU loader (train transform)");
  cmd->add_option("-o,--out", a->out, "also write the result as JSON to this file");
  cmd->footer(
      "The network, device and precision come from the config (model.*, run.device, run.precision,\n"
      "run.channels_last); the step is the trainer's (train/step.h). CUDA: peak allocated memory; CPU: peak "
      "RSS.\n"
      "Example: c2am bench train --set model.arch=resnet50 --set run.device=cuda --set run.precision=bf16 "
      "--set run.channels_last=true\n"
      "Example: c2am bench train --set model.arch=resnet18 --batches 8,16 --size 96 --steps 3 --warmup 1");
  cmd->callback([a, action] {
    *action = [a] {
      const config::Config cfg = resolve_config(a->cfg);
      a->opts.from_data = a->end_to_end;
      util::Logger log;
      const train::BenchTrainResult r = train::bench_train(cfg, a->opts, log);
      fmt::print("{} on {}\n", r.description, r.device);
      fmt::print("{:>6} {:>12} {:>10} {:>14}{}\n", "batch", "images/s", "ms/step", "peak MiB",
                 a->end_to_end ? "  loader wait ms/step" : "");
      for (const auto& p : r.points) {
        if (!p.ok) {
          fmt::print("{:>6} {}\n", p.batch, p.error);
          continue;
        }
        fmt::print("{:>6} {:>12.1f} {:>10.1f} {:>14.0f}{}\n", p.batch, p.images_per_second, p.median_step_ms,
                   p.peak_memory_mib, a->end_to_end ? fmt::format("  {:>10.1f}", p.loader_wait_ms) : "");
      }
      const std::string json = train::bench_train_json(r);
      fmt::print("{}\n", json);
      if (!a->out.empty()) util::write_file_atomic(a->out, json + "\n");
      return 0;
    };
  });
}

}  // namespace c2am::cli
