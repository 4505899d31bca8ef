#include "util/log.h"

#include <unistd.h>

#include <cmath>

#include "util/error.h"

namespace c2am::util {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

Logger::~Logger() {
  if (metrics_ != nullptr) std::fclose(metrics_);
}

std::string Logger::prefix(std::string_view level) const {
  if (world_ > 1) return fmt::format("[rank {}] {}: ", rank_, level);
  return fmt::format("{}: ", level);
}

void Logger::write_line(const std::string& s) {
  std::fputs(s.c_str(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Logger::progress(const std::string& line) const {
  if (rank_ != 0) return;
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    progress_open_ = true;
  } else {
    write_line(line);
  }
  std::fflush(stderr);
}

void Logger::end_progress() const {
  if (progress_open_) std::fputc('\n', stderr);
  progress_open_ = false;
}

void Logger::open_metrics(const std::string& path) {
  if (rank_ != 0) return;
  if (metrics_ != nullptr) std::fclose(metrics_);
  metrics_ = std::fopen(path.c_str(), "a");
  if (metrics_ == nullptr) throw_errno("cannot open metrics file", path);
}

void Logger::metric(const std::string& json_line) const {
  if (rank_ != 0) return;
  if (metrics_ != nullptr) {
    std::fputs(json_line.c_str(), metrics_);
    std::fputc('\n', metrics_);
    std::fflush(metrics_);
  }
  for (const MetricSink& sink : sinks_) sink(json_line);
}

void Logger::add_metric_sink(MetricSink sink) {
  if (rank_ == 0) sinks_.push_back(std::move(sink));
}

}  // namespace c2am::util
