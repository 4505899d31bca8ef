// Implements: RunMonitor and its helpers (see monitoring.h).
#include "cli/monitoring.h"

#include <fmt/core.h>

#include <filesystem>
#include <regex>

#include "monitor/metrics_scalars.h"
#include "monitor/run_session.h"
#include "checkpoint/checkpoint.h"
#include "util/error.h"
#include "util/fs.h"

#ifndef C2AM_VERSION
#define C2AM_VERSION "unknown"
#endif

namespace c2am::cli {

namespace fs = std::filesystem;

RunMonitor::RunMonitor(const config::Config& cfg, const comm::Context& ctx, const std::string& dir,
                       const std::string& command, std::optional<std::int64_t> start_step, const util::Logger& log)
    : dir_(dir), log_(log) {
  if (ctx.rank != 0) return;
  try {
    monitor::Session s = monitor::new_session(dir, command, start_step.value_or(0));
    s.world = ctx.world;
    s.launcher = ctx.launcher.empty() ? "single process" : ctx.launcher;
    s.device = cfg.run.device;
    s.threads = cfg.run.threads;
    s.version = C2AM_VERSION;
    monitor::append_session(dir, s);
  } catch (const std::exception& e) {
    log.warn("cannot record the session in {}/sessions.jsonl: {}", dir, e.what());
  }
  if (!cfg.run.tensorboard) return;
  if (!start_step) {
    log.warn("tensorboard: the resume checkpoint could not be resolved; no events this time");
    return;
  }
  try {
    writer_ = std::make_unique<monitor::EventWriter>(tb_dir(), *start_step);
    const monitor::PurgeReport& p = writer_->purge_report();
    if (p.records_removed > 0) {
      log.info("tensorboard: dropped {} earlier records at steps >= {} (resume)", p.records_removed, *start_step);
    }
    for (const std::string& f : p.damaged) log.warn("tensorboard: {} was damaged; kept its readable records", f);
  } catch (const std::exception& e) {
    log.warn("tensorboard: not written ({}); set run.tensorboard = false to silence this", e.what());
  }
}

template <typename F>
void RunMonitor::guarded(F&& write) {
  if (!writer_) return;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    write(*writer_);
  } catch (const std::exception& e) {
    log_.warn("tensorboard: writing {} failed ({}); no more events this run", writer_->file(), e.what());
    writer_.reset();
  }
  spent_ += std::chrono::steady_clock::now() - t0;
}

void RunMonitor::attach(util::Logger& log) {
  if (!writer_) return;
  log.add_metric_sink([this](const std::string& line) { metrics_line(line); });
}

void RunMonitor::metrics_line(const std::string& json_line) {
  guarded([&](monitor::EventWriter& w) {
    const std::optional<monitor::MetricScalars> m = monitor::metric_scalars(json_line);
    if (!m) return;
    w.add_scalars(m->step, m->values);
    ++lines_;
  });
}

void RunMonitor::scalars(std::int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  guarded([&](monitor::EventWriter& w) { w.add_scalars(step, values); });
}

void RunMonitor::image_file(const std::string& tag, std::int64_t step, const std::string& png_path) {
  std::error_code ec;
  if (!fs::is_regular_file(png_path, ec)) return;
  guarded([&](monitor::EventWriter& w) { w.add_image(tag, step, util::read_file(png_path)); });
}

void RunMonitor::text(const std::string& tag, std::int64_t step, const std::string& markdown) {
  guarded([&](monitor::EventWriter& w) { w.add_text(tag, step, markdown); });
}

void RunMonitor::log_summary() const {
  if (!writer_) return;
  const double ms = std::chrono::duration<double, std::milli>(spent_).count();
  log_.info("tensorboard: {} metrics lines, {} records, {:.2f} ms in the writer ({:.3f} ms per line); view with: "
            "tensorboard --logdir {}",
            lines_, writer_->records(), ms, lines_ > 0 ? ms / static_cast<double>(lines_) : 0.0, tb_dir());
}

std::optional<std::int64_t> checkpoint_step(const std::string& path) {
  static const std::regex kName("ckpt-([0-9]+)\\.pt");
  std::smatch m;
  const std::string name = fs::path(path).filename().string();
  if (!std::regex_match(name, m, kName)) return std::nullopt;
  return std::stoll(m[1].str());
}

std::optional<std::int64_t> resume_start_step(const std::string& resume, const std::string& run_dir) {
  if (resume.empty()) return 0;
  try {
    const std::optional<std::string> found = checkpoint::resolve_checkpoint(resume == "auto" ? run_dir : resume);
    if (!found) return resume == "auto" ? std::optional<std::int64_t>(0) : std::nullopt;
    // A run folder's checkpoints are named by their step; any other file is read.
    if (const auto step = checkpoint_step(*found); step && fs::is_directory(resume == "auto" ? run_dir : resume)) {
      return *step + 1;
    }
    return checkpoint::load_checkpoint(*found).progress.step + 1;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string config_markdown(const config::Config& cfg) {
  // Indented by four spaces: a code block in TensorBoard's markdown.
  std::string out;
  const std::string toml = config::to_toml(cfg);
  size_t start = 0;
  while (start < toml.size()) {
    const size_t end = toml.find('\n', start);
    out += "    " + toml.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace c2am::cli
