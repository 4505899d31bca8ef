// Implements: finding report sections and reading metrics lines (see report_data.h).
#include "monitor/report_data.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "monitor/metrics_scalars.h"

namespace c2am::monitor {

namespace fs = std::filesystem;

namespace {

using Json = nlohmann::ordered_json;
constexpr int kMaxDepth = 3;
const std::set<std::string> kNotEntered = {"checkpoints", "tb", "parts", "heatmaps"};

Json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return Json();
  return Json::parse(in, nullptr, /*allow_exceptions=*/false);
}

bool is_seg_metrics(const Json& j) {
  return j.is_object() && j.contains("ground_truth") &&
         (j.contains("pred") || j.contains("cues") || j.contains("constant") || j.contains("sweep"));
}

void walk(const fs::path& dir, const fs::path& root, int depth, std::vector<ReportUnit>& out) {
  std::error_code ec;
  const std::string rel = dir == root ? "." : fs::relative(dir, root, ec).string();
  if (fs::is_regular_file(dir / "metrics.jsonl", ec)) out.push_back({UnitKind::kTraining, dir, rel});
  if (fs::is_regular_file(dir / "metrics.json", ec)) {
    const Json j = read_json(dir / "metrics.json");
    if (j.is_object() && j.contains("corloc")) out.push_back({UnitKind::kWsolEval, dir, rel});
    else if (is_seg_metrics(j)) out.push_back({UnitKind::kSegEval, dir, rel});
  }
  if (depth == kMaxDepth) return;
  std::vector<fs::path> children;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec) && !e.is_symlink(ec) && kNotEntered.count(e.path().filename().string()) == 0) {
      children.push_back(e.path());
    }
  }
  std::sort(children.begin(), children.end());
  // eval/epoch-NNN: only the newest in-training evaluation gets a section.
  static const std::regex kEpoch("epoch-[0-9]+");
  fs::path newest_epoch;
  for (const fs::path& c : children) {
    if (std::regex_match(c.filename().string(), kEpoch) && fs::is_regular_file(c / "metrics.json", ec)) {
      newest_epoch = c;
    }
  }
  for (const fs::path& c : children) {
    if (std::regex_match(c.filename().string(), kEpoch) && c != newest_epoch) continue;
    walk(c, root, depth + 1, out);
  }
}

}  // namespace

double MetricLine::get(const std::string& name, double fallback) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return fallback;
}

std::vector<ReportUnit> find_report_units(const fs::path& root) {
  std::vector<ReportUnit> out;
  walk(root, root, 0, out);
  return out;
}

std::map<std::string, std::vector<MetricLine>> read_metric_lines(const fs::path& dir,
                                                                 const std::vector<Session>& sessions) {
  struct Read {
    MetricLine line;
    std::int64_t offset;
    bool hidden = false;
  };
  std::vector<Read> all;
  std::ifstream in(dir / "metrics.jsonl", std::ios::binary);
  std::string text;
  std::int64_t offset = 0;
  while (std::getline(in, text)) {
    const std::int64_t at = offset;
    offset += static_cast<std::int64_t>(text.size()) + 1;
    const std::optional<MetricScalars> m = metric_scalars(text);
    if (!m) continue;
    const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    Read r{MetricLine{}, at};
    r.line.kind = m->kind;
    r.line.has_step = j.is_object() && j.contains("step") && j["step"].is_number();
    r.line.step = m->step;
    const std::string prefix = m->kind + "/";
    for (const auto& [tag, value] : m->values) r.line.fields.emplace_back(tag.substr(prefix.size()), value);
    all.push_back(std::move(r));
  }
  if (!sessions.empty()) {
    for (const Session& s : sessions) {
      for (Read& r : all) {
        if (r.offset < s.metrics_offset && r.line.has_step && r.line.step >= s.start_step) r.hidden = true;
      }
    }
  } else {
    // Hidden when a later line of the same kind has a step <= its own.
    std::map<std::string, std::int64_t> min_later;
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!it->line.has_step) continue;
      const auto found = min_later.find(it->line.kind);
      if (found != min_later.end() && found->second <= it->line.step) {
        it->hidden = true;
      } else {
        min_later[it->line.kind] = it->line.step;
      }
    }
  }
  std::map<std::string, std::vector<MetricLine>> by_kind;
  for (Read& r : all) {
    if (!r.hidden) by_kind[r.line.kind].push_back(std::move(r.line));
  }
  return by_kind;
}

}  // namespace c2am::monitor
