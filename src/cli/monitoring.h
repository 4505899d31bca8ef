// Implements: the command line's side of monitoring a run folder. On rank 0
// a RunMonitor appends the session to <dir>/sessions.jsonl and, unless
// run.tensorboard = false, writes TensorBoard events to <dir>/tb/: every
// metrics line of the logger as scalars, images and text the command hands
// it. A writer failure becomes one warning and stops the writer; it never
// stops the command. On other ranks every call does nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "comm/context.h"
#include "monitor/event_writer.h"
#include "util/log.h"

namespace c2am::cli {

class RunMonitor {
 public:
  // `start_step`: the first step the command logs (resume_start_step; 0 for
  // a fresh run or a one-shot evaluation): the folder's earlier events at
  // steps >= it are dropped. nullopt (a resume that could not be resolved): no
  // TensorBoard events this time, so none are dropped.
  RunMonitor(const config::Config& cfg, const comm::Context& ctx, const std::string& dir, const std::string& command,
             std::optional<std::int64_t> start_step, const util::Logger& log);

  bool tensorboard() const { return writer_ != nullptr; }
  std::string tb_dir() const { return dir_ + "/tb"; }

  // Every metrics line of `log` becomes scalars (monitor/metrics_scalars.h).
  void attach(util::Logger& log);
  void metrics_line(const std::string& json_line);
  void scalar(const std::string& tag, std::int64_t step, double value) { scalars(step, {{tag, value}}); }
  void scalars(std::int64_t step, const std::vector<std::pair<std::string, double>>& values);
  // A PNG file, when it exists.
  void image_file(const std::string& tag, std::int64_t step, const std::string& png_path);
  void text(const std::string& tag, std::int64_t step, const std::string& markdown);
  // Logs what the writer cost ("tensorboard: N metrics lines, X ms ...") and where its files are.
  void log_summary() const;

 private:
  template <typename F>
  void guarded(F&& write);

  std::string dir_;
  const util::Logger& log_;
  std::unique_ptr<monitor::EventWriter> writer_;
  std::int64_t lines_ = 0;
  std::chrono::steady_clock::duration spent_{};
};

// The step of a checkpoint file named ckpt-<step>.pt (train/checkpoint.h); nullopt for other names.
std::optional<std::int64_t> checkpoint_step(const std::string& path);

// The first step a training session logs, from which the run's earlier
// events are dropped: 0 without --resume or when `--resume auto` finds no
// checkpoint (a fresh start replaces everything); the resumed checkpoint's
// step + 1 otherwise (its step itself was trained and logged before); nullopt
// when the resume cannot be resolved (the trainer then reports why).
std::optional<std::int64_t> resume_start_step(const std::string& resume, const std::string& run_dir);

// The resolved config as markdown for TensorBoard's text dashboard (a code block).
std::string config_markdown(const config::Config& cfg);

}  // namespace c2am::cli
