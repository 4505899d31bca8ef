// Implements: what the report reads from a run folder: the folders worth a
// section (training runs, WSOL and segmentation evaluations) and a training
// run's metrics lines with the resume rule applied, so a step repeated after
// a resume is shown once (the later session's value), as TensorBoard does.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "monitor/run_session.h"

namespace c2am::monitor {

enum class UnitKind { kTraining, kWsolEval, kSegEval };

struct ReportUnit {
  UnitKind kind;
  std::filesystem::path dir;
  std::string name;  // path relative to the report's root ("." for the root)
};

// Folders under `root` (itself included, three levels down) to report, in
// path order. Of a run's in-training evaluations (eval/epoch-NNN) only the
// newest is listed; checkpoints/, tb/, parts/ and heatmaps/ are not entered.
std::vector<ReportUnit> find_report_units(const std::filesystem::path& root);

// One metrics line, its numeric fields in the line's order.
struct MetricLine {
  std::string kind;
  bool has_step = false;
  std::int64_t step = 0;
  std::vector<std::pair<std::string, double>> fields;
  double get(const std::string& name, double fallback) const;
};

// The lines of `<dir>/metrics.jsonl`, grouped by kind, with the resume rule:
// a session of sessions.jsonl that started at step S after byte offset O
// hides every line before O at step >= S. Without sessions.jsonl a line whose
// step does not exceed its kind's previous one hides the earlier lines at
// steps >= it.
std::map<std::string, std::vector<MetricLine>> read_metric_lines(const std::filesystem::path& dir,
                                                                 const std::vector<Session>& sessions);

}  // namespace c2am::monitor
