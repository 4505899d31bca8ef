// Implements: `c2am report`: one self-contained HTML page about a run folder
// (inline SVG curves, contact sheets as data: images, the metrics tables,
// the configuration, the machines and ranks of each session). It finds what
// to show under the folder: training runs (metrics.jsonl), WSOL evaluations
// (metrics.json with CorLoc) and segmentation evaluations (eval-seg's
// metrics.json), up to three levels down. No server, no script needed to
// read it (one small script only checks that the images decoded).
#pragma once
#include <string>
#include <vector>

namespace c2am::monitor {

struct ReportSummary {
  std::vector<std::string> sections;  // "training: c2am", "WSOL evaluation: eval", ...
  int charts = 0;
  int images = 0;
};

// The HTML text; throws c2am::UsageError when `run_dir` holds nothing to report.
std::string render_report(const std::string& run_dir, ReportSummary* summary = nullptr);
// Renders and writes `out_file` atomically.
ReportSummary write_report(const std::string& run_dir, const std::string& out_file);

}  // namespace c2am::monitor
