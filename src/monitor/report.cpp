// Implements: the HTML report (see report.h): sections for training runs,
// WSOL evaluations and segmentation evaluations, then the sessions.
#include "monitor/report.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "monitor/html.h"
#include "monitor/report_data.h"
#include "monitor/svg_chart.h"
#include "util/error.h"
#include "util/fs.h"

namespace c2am::monitor {

namespace fs = std::filesystem;

namespace {

using Json = nlohmann::ordered_json;
constexpr std::uintmax_t kMaxInlineImage = 12u << 20;  // larger contact sheets are named, not embedded

struct Page {
  std::string body;
  ReportSummary summary;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Json read_json(const fs::path& p) { return Json::parse(read_text(p), nullptr, /*allow_exceptions=*/false); }

std::string num(double v, int decimals = 2) {
  if (!std::isfinite(v)) return "–";
  return fmt::format("{:.{}f}", v, decimals);
}

std::string jnum(const Json& j, const char* key, int decimals = 2, double scale = 1.0) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "–";
  return num(j[key].get<double>() * scale, decimals);
}

void chart(Page& page, const std::vector<Series>& series, const ChartOptions& o) {
  page.body += "<figure class=\"chart-box\">" + svg_line_chart(series, o) + "</figure>\n";
  ++page.summary.charts;
}

void image(Page& page, const fs::path& png, const std::string& caption) {
  std::error_code ec;
  if (!fs::is_regular_file(png, ec)) return;
  const auto size = fs::file_size(png, ec);
  if (ec || size > kMaxInlineImage) {
    page.body += fmt::format("<p class=\"note\">{} ({} MiB) is too large to embed: {}</p>\n", html_escape(caption),
                             size >> 20, html_escape(png.string()));
    return;
  }
  page.body += fmt::format(
      "<figure class=\"sheet\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{}</figcaption></figure>\n",
      html_escape(caption), base64(read_text(png)), html_escape(caption));
  ++page.summary.images;
}

void table(Page& page, const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  page.body += "<table><thead><tr>";
  for (const auto& h : head) page.body += "<th>" + html_escape(h) + "</th>";
  page.body += "</tr></thead><tbody>\n";
  for (const auto& r : rows) {
    page.body += "<tr>";
    for (const auto& c : r) page.body += "<td>" + html_escape(c) + "</td>";
    page.body += "</tr>\n";
  }
  page.body += "</tbody></table>\n";
}

// Which chart a numeric field of a training line goes to ("" = none: shown in tables).
std::string train_group(const std::string& f) {
  if (f == "epoch" || f == "world") return "";
  if (f == "lr") return "learning rate";
  if (f.find("per_s") != std::string::npos) return "throughput (img/s)";
  if (f.find("wait") != std::string::npos) return "loader wait";
  if (f.find("mem") != std::string::npos || f.find("_mib") != std::string::npos ||
      f.find("_gib") != std::string::npos || f.find("bytes") != std::string::npos) {
    return "memory";
  }
  return "loss";
}

std::string eval_group(const std::string& f) {
  if (f == "epoch" || f == "images") return "";
  if (f.find("threshold") != std::string::npos) return "best τ";
  return "accuracy (%)";
}

// Charts of one kind of metrics line: one per group, one series per field.
void kind_charts(Page& page, const std::vector<MetricLine>& lines, std::string (*group)(const std::string&),
                 const std::string& x_field, const std::string& kind) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<Series>> groups;
  std::map<std::string, size_t> index;
  for (const MetricLine& l : lines) {
    const double x = x_field == "step" ? static_cast<double>(l.step) : l.get(x_field, NAN);
    for (const auto& [field, value] : l.fields) {
      const std::string g = group(field);
      if (g.empty()) continue;
      if (!groups.count(g)) order.push_back(g);
      std::vector<Series>& s = groups[g];
      const std::string key = g + "\n" + field;
      if (!index.count(key)) {
        index[key] = s.size();
        s.push_back(Series{field, {}, {}});
      }
      s[index[key]].x.push_back(x);
      s[index[key]].y.push_back(value);
    }
  }
  for (const std::string& g : order) chart(page, groups[g], {kind + ": " + g, x_field, g});
}

void training_section(Page& page, const ReportUnit& u) {
  const std::vector<Session> sessions = read_sessions(u.dir.string());
  const auto lines = read_metric_lines(u.dir, sessions);
  page.body += fmt::format("<section class=\"unit training\"><h2>Training run: {}</h2>\n", html_escape(u.name));
  page.summary.sections.push_back("training: " + u.name);

  std::vector<std::vector<std::string>> rows;
  if (lines.count("train")) {
    const auto& t = lines.at("train");
    const MetricLine& last = t.back();
    double sum = 0, sum_rank = 0;
    size_t n = 0;
    for (size_t i = t.size() > 1 ? 1 : 0; i < t.size(); ++i) {  // the first window includes warm-up
      sum += t[i].get("img_per_s", NAN);
      sum_rank += t[i].get("img_per_s_per_rank", NAN);
      ++n;
    }
    rows.push_back({"steps", fmt::format("{}", last.step)});
    rows.push_back({"epoch (at the last line)", num(last.get("epoch", NAN) + 1, 0)});
    rows.push_back({"ranks (world size)", num(last.get("world", 1), 0)});
    rows.push_back({"throughput, mean over the run", fmt::format("{} img/s ({} per rank)", num(sum / n, 1),
                                                                   num(sum_rank / n, 1))});
    for (const auto& [f, v] : last.fields) {
      if (train_group(f) == "loss") rows.push_back({"last " + f, num(v, 4)});
    }
  }
  if (lines.count("eval")) {
    const MetricLine& e = lines.at("eval").back();
    rows.push_back({"last evaluation", fmt::format("epoch {}: CorLoc {} % (τ {}), MaxBoxAccV2 {} %",
                                                   num(e.get("epoch", NAN), 0), num(e.get("corloc", NAN)),
                                                   num(e.get("best_threshold", NAN)),
                                                   num(e.get("max_box_acc_v2", NAN)))});
  }
  if (!rows.empty()) table(page, {"", "value"}, rows);
  page.body += "<div class=\"charts\">\n";
  for (const auto& [kind, l] : lines) {
    if (kind == "train") kind_charts(page, l, train_group, "step", kind);
    else if (kind == "eval") kind_charts(page, l, eval_group, "epoch", kind);
    else kind_charts(page, l, train_group, "step", kind);
  }
  page.body += "</div>\n";
  if (lines.count("eval")) {
    std::vector<std::vector<std::string>> er;
    for (const MetricLine& e : lines.at("eval")) {
      er.push_back({num(e.get("epoch", NAN), 0), e.has_step ? fmt::format("{}", e.step) : "–",
                    num(e.get("corloc", NAN)), num(e.get("best_threshold", NAN)), num(e.get("max_box_acc_v2", NAN)),
                    num(e.get("centre_box", NAN)), num(e.get("images", NAN), 0)});
    }
    page.body += "<h3>Evaluations during training</h3>\n";
    table(page, {"epoch", "step", "CorLoc %", "best τ", "MaxBoxAccV2 %", "centred box %", "images"}, er);
  }
  std::error_code ec;
  if (fs::is_regular_file(u.dir / "config.toml", ec)) {
    page.body += "<details class=\"config\"><summary>Resolved configuration (config.toml)</summary><pre>" +
                 html_escape(read_text(u.dir / "config.toml")) + "</pre></details>\n";
  }
  page.body += "</section>\n";
}

void wsol_section(Page& page, const ReportUnit& u) {
  const Json j = read_json(u.dir / "metrics.json");
  page.body += fmt::format("<section class=\"unit wsol\"><h2>WSOL evaluation: {}</h2>\n", html_escape(u.name));
  page.summary.sections.push_back("WSOL evaluation: " + u.name);
  const Json& c = j["corloc"];
  const Json& m = j.contains("maxboxacc") ? j["maxboxacc"] : Json::object();
  std::vector<std::vector<std::string>> rows = {
      {"checkpoint", j.value("checkpoint", "")},
      {"images", jnum(j, "images", 0)},
      {"ranks", jnum(j, "ranks", 0)},
      {"polarity", j.value("polarity", 0) ? "negative (1 − P is the foreground)" : "positive"},
      {"CorLoc (GT-known Loc)", jnum(c, "best_accuracy") + " % at τ = " + jnum(c, "best_threshold")},
      {"centred-box baseline", jnum(j, "centre_box_baseline_corloc") + " %"},
      {"MaxBoxAccV2", jnum(m, "max_box_acc_v2") + " %"}};
  if (m.contains("max_box_acc")) {
    for (const auto& [iou, v] : m["max_box_acc"].items()) {
      rows.push_back({"MaxBoxAcc " + iou, num(v.get<double>()) + " % at τ = " + jnum(m["best_threshold"], iou.c_str(), 3)});
    }
  }
  if (j.contains("top_k_loc")) {
    const Json& t = j["top_k_loc"];
    rows.push_back({"Top-1 / Top-5 Loc", jnum(t, "top1_loc") + " % / " + jnum(t, "top5_loc") + " %"});
    rows.push_back({"Top-1 / Top-5 classification", jnum(t, "top1_cls") + " % / " + jnum(t, "top5_cls") + " %"});
  }
  table(page, {"", "value"}, rows);
  page.body += "<div class=\"charts\">\n";
  if (c.contains("thresholds") && c.contains("accuracy")) {
    std::vector<Series> s = {{"CorLoc", c["thresholds"].get<std::vector<double>>(), c["accuracy"].get<std::vector<double>>()}};
    if (j.contains("top_k_loc")) {
      s.push_back({"Top-1 Loc", s[0].x, j["top_k_loc"]["top1_loc_per_threshold"].get<std::vector<double>>()});
      s.push_back({"Top-5 Loc", s[0].x, j["top_k_loc"]["top5_loc_per_threshold"].get<std::vector<double>>()});
    }
    chart(page, s, {"CorLoc over the τ sweep", "τ (map threshold)", "% of images"});
  }
  if (m.contains("curves")) {
    std::vector<Series> s;
    for (const auto& [iou, curve] : m["curves"].items()) {
      std::vector<double> y = curve.get<std::vector<double>>();
      std::vector<double> x(y.size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i) / static_cast<double>(y.size());
      s.push_back({"BoxAcc " + iou, std::move(x), std::move(y)});
    }
    chart(page, s, {"BoxAcc over thresholds (MaxBoxAccV2 = mean of the maxima)", "τ (map threshold)", "% of images"});
  }
  page.body += "</div>\n";
  image(page, u.dir / "heatmaps.png", u.name + ": heatmaps (red: predicted box at the best τ, green: ground truth)");
  page.body += "</section>\n";
}

void seg_section(Page& page, const ReportUnit& u) {
  const Json j = read_json(u.dir / "metrics.json");
  page.body += fmt::format("<section class=\"unit seg\"><h2>Segmentation evaluation: {}</h2>\n", html_escape(u.name));
  page.summary.sections.push_back("segmentation evaluation: " + u.name);
  page.body += fmt::format("<p>{} images; ground truth: {}</p>\n", jnum(j, "images", 0),
                           html_escape(j.value("ground_truth", "")));
  std::vector<std::vector<std::string>> rows;
  std::vector<std::pair<std::string, const Json*>> scored;
  const std::pair<const char*, const char*> sources[] = {
      {"pred", "pseudo masks"}, {"cues", "CAMs + background cues"}, {"constant", "CAMs + constant background"}};
  for (const auto& [key, label] : sources) {
    if (j.contains(key) && j[key].contains("scores")) scored.emplace_back(label, &j[key]["scores"]);
  }
  if (j.contains("sweep") && j["sweep"].contains("best")) {
    scored.emplace_back("CAMs + best constant background " + jnum(j["sweep"]["best"], "bg_threshold"),
                        &j["sweep"]["best"]["scores"]);
  }
  for (const auto& [label, s] : scored) {
    rows.push_back({label, jnum(*s, "miou", 2, 100), jnum(*s, "fp", 4), jnum(*s, "fn", 4),
                    jnum(*s, "pixel_accuracy", 2, 100)});
  }
  table(page, {"scored", "mIoU %", "FP", "FN", "pixel accuracy %"}, rows);
  if (!scored.empty() && scored.front().second->contains("iou")) {
    std::vector<std::vector<std::string>> per_class;
    for (const auto& [name, v] : (*scored.front().second)["iou"].items()) {
      per_class.push_back({name, v.is_number() ? num(v.get<double>() * 100) : "–"});
    }
    page.body += "<details><summary>Per-class IoU (" + html_escape(scored.front().first) + ")</summary>";
    table(page, {"class", "IoU %"}, per_class);
    page.body += "</details>\n";
  }
  if (j.contains("sweep") && j["sweep"].contains("points")) {
    Series miou{"mIoU", {}, {}}, fp{"FP", {}, {}}, fn{"FN", {}, {}};
    for (const Json& p : j["sweep"]["points"]) {
      const double t = p.value("bg_threshold", NAN);
      auto val = [&](const char* k) { return p.contains(k) && p[k].is_number() ? p[k].get<double>() : NAN; };
      miou.x.push_back(t);
      miou.y.push_back(100 * val("miou"));
      fp.x.push_back(t);
      fp.y.push_back(val("fp"));
      fn.x.push_back(t);
      fn.y.push_back(val("fn"));
    }
    page.body += "<div class=\"charts\">\n";
    chart(page, {miou}, {"mIoU over the constant background threshold", "background threshold", "mIoU %"});
    chart(page, {fp, fn}, {"FP and FN over the constant background threshold", "background threshold", "rate"});
    page.body += "</div>\n";
  }
  image(page, u.dir / "samples.png", u.name + ": samples (ground truth | pseudo mask or CAMs | cue)");
  page.body += "</section>\n";
}

void sessions_section(Page& page, const std::vector<ReportUnit>& units) {
  std::vector<std::vector<std::string>> rows;
  std::set<fs::path> seen;
  for (const ReportUnit& u : units) {
    if (!seen.insert(u.dir).second) continue;
    for (const Session& s : read_sessions(u.dir.string())) {
      rows.push_back({u.name, s.command, s.started, fmt::format("{}", s.start_step), fmt::format("{}", s.world),
                      s.launcher, s.device, fmt::format("{}", s.threads), s.machine.host,
                      fmt::format("{} ({} logical CPUs, {:.1f} GiB)", s.machine.cpu, s.machine.logical_cpus,
                                  s.machine.memory_gib),
                      s.machine.os, s.version});
    }
  }
  page.body += "<section class=\"unit sessions\"><h2>Sessions: machines and ranks</h2>\n";
  if (rows.empty()) {
    page.body += "<p class=\"note\">No sessions.jsonl: these outputs predate session logging.</p>\n";
  } else {
    table(page, {"folder", "command", "started", "start step", "ranks", "launcher", "device", "threads", "host",
                 "CPU", "OS", "c2am"},
          rows);
  }
  page.body += "</section>\n";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1240px;padding:16px 24px;color:#222;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.6em}
h3{font-size:1.05em}table{border-collapse:collapse;margin:8px 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.charts{display:flex;flex-wrap:wrap;gap:8px}.chart-box{margin:0}
svg.chart{background:#fff;border:1px solid #e4e4e4}svg.chart .plot{fill:none;stroke:#999}
svg.chart .grid{stroke:#eee}svg.chart .tick,svg.chart .legend{font-size:11px;fill:#444}
svg.chart .axis-label{font-size:12px;fill:#333}svg.chart .chart-title{font-size:13px;font-weight:600;fill:#222}
svg.chart .series{stroke-width:1.6}.sheet img{max-width:100%;border:1px solid #ddd}
.note{color:#777}pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:.85em}
)";

// Checks, once the page has loaded, that every image decoded; the result is
// an attribute of <html> and failures are console errors (tests/cli/report_browser.sh).
constexpr const char* kCheckScript = R"(<script>
window.addEventListener('load', function () {
  var imgs = document.images, decoded = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) decoded++;
    else console.error('report: image did not decode: ' + imgs[i].alt);
  }
  var lines = document.querySelectorAll('svg.chart polyline.series').length;
  document.documentElement.setAttribute('data-report-check',
      JSON.stringify({images: imgs.length, decoded: decoded, polylines: lines}));
});
</script>)";

}  // namespace

std::string render_report(const std::string& run_dir, ReportSummary* summary) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) throw UsageError(fmt::format("'{}' is not a folder", run_dir));
  const fs::path root = fs::absolute(run_dir).lexically_normal();
  const std::vector<ReportUnit> units = find_report_units(root);
  if (units.empty()) {
    throw UsageError(fmt::format("'{}' holds no metrics.jsonl (training) or metrics.json (evaluation) within "
                                 "three levels",
                                 run_dir));
  }
  Page page;
  const std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", std::localtime(&now));
  page.body += fmt::format("<h1>c2am report: {}</h1>\n<p class=\"note\">{} · generated {}</p>\n",
                           html_escape(root.filename().string()), html_escape(root.string()), when);
  page.body += "<nav><ul>";
  for (const ReportUnit& u : units) {
    const char* what = u.kind == UnitKind::kTraining ? "training" : u.kind == UnitKind::kWsolEval ? "WSOL evaluation"
                                                                                                   : "segmentation evaluation";
    page.body += fmt::format("<li>{}: {}</li>", what, html_escape(u.name));
  }
  page.body += "</ul></nav>\n";
  for (const ReportUnit& u : units) {
    const size_t mark = page.body.size();
    try {
      if (u.kind == UnitKind::kTraining) training_section(page, u);
      else if (u.kind == UnitKind::kWsolEval) wsol_section(page, u);
      else seg_section(page, u);
    } catch (const std::exception& e) {  // one unreadable folder does not cost the others their section
      page.body.resize(mark);
      page.body += fmt::format("<section class=\"unit\"><h2>{}</h2><p class=\"note\">not shown: {}</p></section>\n",
                               html_escape(u.name), html_escape(e.what()));
    }
  }
  sessions_section(page, units);
  if (summary != nullptr) *summary = page.summary;
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>c2am report: {}</title>"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{}</style></head>\n<body>\n{}{}\n"
      "</body></html>\n",
      html_escape(root.filename().string()), kStyle, page.body, kCheckScript);
}

ReportSummary write_report(const std::string& run_dir, const std::string& out_file) {
  ReportSummary summary;
  const std::string html = render_report(run_dir, &summary);
  const fs::path parent = fs::path(out_file).parent_path();
  if (!parent.empty()) util::make_dirs(parent.string());
  util::write_file_atomic(out_file, html);
  return summary;
}

}  // namespace c2am::monitor
