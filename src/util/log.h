// Implements: the one logger. Info goes to stderr on rank 0 only; warnings and
// errors go to stderr on every rank with a "[rank r]" prefix; metrics are JSON
// lines appended to a file on rank 0, and handed to the sinks attached there
// (the TensorBoard writer). Call sites are identical on every rank.
#pragma once
#include <fmt/core.h>

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace c2am::util {

// A duration for progress lines and ETAs: "H:MM:SS"; "?" when unknown (NaN, infinite, negative).
std::string format_duration(double seconds);

class Logger {
 public:
  explicit Logger(int rank = 0, int world = 1) : rank_(rank), world_(world) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;
  ~Logger();

  int rank() const { return rank_; }
  bool is_root() const { return rank_ == 0; }

  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) const {
    if (rank_ == 0) write_line(fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) const {
    write_line(prefix("warning") + fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) const {
    write_line(prefix("error") + fmt::format(f, std::forward<Args>(args)...));
  }
  // A progress line that overwrites itself on a terminal (rank 0 only).
  void progress(const std::string& line) const;
  void end_progress() const;

  // Metrics: JSON lines appended to `path` on rank 0; other ranks ignore.
  void open_metrics(const std::string& path);
  void metric(const std::string& json_line) const;
  // Another consumer of every metrics line on rank 0 (other ranks ignore it),
  // called after the line is written to the file; it must not throw.
  using MetricSink = std::function<void(const std::string& json_line)>;
  void add_metric_sink(MetricSink sink);

 private:
  std::string prefix(std::string_view level) const;
  static void write_line(const std::string& s);

  int rank_;
  int world_;
  std::FILE* metrics_ = nullptr;
  std::vector<MetricSink> sinks_;
  bool tty_ = false;
  mutable bool progress_open_ = false;
};

}  // namespace c2am::util
