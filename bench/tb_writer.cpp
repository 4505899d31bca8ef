// Benchmark: the TensorBoard writer's cost per metrics line, as training pays
// it on rank 0: parse the JSON line, one Event with every numeric field,
// append, flush. Compare with a training step's time (docs/benchmarks.md).
// Usage: c2am_bench_tb_writer [--lines N] [--dir DIR] [--keep]
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <filesystem>

#include "monitor/event_writer.h"
#include "monitor/metrics_scalars.h"

int main(int argc, char** argv) {
  CLI::App app{"cost of the TensorBoard writer per metrics line"};
  int lines = 20000;
  std::string dir = (std::filesystem::temp_directory_path() / "c2am_bench_tb").string();
  app.add_option("--lines", lines, "metrics lines to write")->check(CLI::PositiveNumber);
  bool keep = false;
  app.add_option("--dir", dir, "event folder (emptied first)");
  app.add_flag("--keep", keep, "keep the event file");
  CLI11_PARSE(app, argc, argv);
  std::filesystem::remove_all(dir);
  c2am::monitor::EventWriter writer(dir, 0);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (int i = 1; i <= lines; ++i) {
    // The trainer's C²AM line (src/train/trainer.cpp), with realistic values.
    const std::string line = fmt::format(
        R"({{"kind":"train","step":{},"epoch":{},"loss":{},"pos_bg":{},"neg":{},"pos_fg":{},"lr":{},"img_per_s":{},"world":2,"img_per_s_per_rank":{}}})",
        i * 10, i / 20, 1.2345678 + 1e-6 * i, 0.4123456, 0.3123456, 0.5123456, 0.01 * (1 - 1e-5 * i), 13.456789,
        6.7283945);
    const auto m = c2am::monitor::metric_scalars(line);
    writer.add_scalars(m->step, m->values);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto bytes = std::filesystem::file_size(writer.file());
  fmt::print("{} metrics lines in {:.3f} s: {:.1f} us per line (parse + Event + append + flush), {:.0f} bytes per line\n",
             lines, seconds, 1e6 * seconds / lines, static_cast<double>(bytes) / lines);
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
