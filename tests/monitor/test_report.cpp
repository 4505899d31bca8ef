// The HTML report's reading of a run folder: which folders get a section, the
// resume rule over metrics.jsonl (with and without sessions.jsonl), and the
// page: charts, embedded images, tables, escaping.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/tiny_png.h"
#include "monitor/html.h"
#include "monitor/report.h"
#include "monitor/report_data.h"
#include "monitor/run_session.h"
#include "util/error.h"

namespace c2am::monitor {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

void write_png(const fs::path& p) { write(p, c2am::testing_util::png1x1()); }

std::string wsol_metrics(double corloc) {
  return R"({"checkpoint":"ckpt-000000004.pt","polarity":0,"images":8,"ranks":1,)"
         R"("corloc":{"best_accuracy":)" + std::to_string(corloc) +
         R"(,"best_threshold":0.3,"thresholds":[0.05,0.1,0.15],"accuracy":[10,20,15]},)"
         R"("maxboxacc":{"max_box_acc_v2":30,"max_box_acc":{"iou_0.3":50,"iou_0.5":30,"iou_0.7":10},)"
         R"("best_threshold":{"iou_0.3":0.1,"iou_0.5":0.2,"iou_0.7":0.3},)"
         R"("curves":{"iou_0.3":[50,40,30,20],"iou_0.5":[30,20,10,5],"iou_0.7":[10,5,2,1]}},)"
         R"("centre_box_baseline_corloc":12.5})";
}

// A resumed training run (steps 1-3, then 3-4 again from the checkpoint of
// step 2), two in-training evaluations, and an eval-seg output.
fs::path make_run(const std::string& name, bool with_sessions) {
  const fs::path run = fs::temp_directory_path() / ("c2am_test_report_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(run);
  const std::string first =
      R"({"kind":"train","step":1,"epoch":0,"loss":3,"lr":0.1,"img_per_s":5,"world":2,"img_per_s_per_rank":2.5})"
      "\n"
      R"({"kind":"train","step":2,"epoch":0,"loss":2,"lr":0.1,"img_per_s":6,"world":2,"img_per_s_per_rank":3})"
      "\n"
      R"({"kind":"eval","step":2,"epoch":1,"corloc":40,"best_threshold":0.3,"max_box_acc_v2":20,"centre_box":10,"images":8})"
      "\n"
      R"({"kind":"train","step":3,"epoch":1,"loss":1,"lr":0.1,"img_per_s":6,"world":2,"img_per_s_per_rank":3})"
      "\n";
  const std::string second =
      R"({"kind":"train","step":3,"epoch":1,"loss":0.9,"lr":0.1,"img_per_s":7,"world":2,"img_per_s_per_rank":3.5})"
      "\n"
      R"({"kind":"train","step":4,"epoch":1,"loss":0.8,"lr":0.05,"img_per_s":7,"world":2,"img_per_s_per_rank":3.5})"
      "\n"
      R"({"kind":"eval","step":4,"epoch":2,"corloc":50,"best_threshold":0.35,"max_box_acc_v2":25,"centre_box":10,"images":8})"
      "\n";
  write(run / "metrics.jsonl", first + second);
  if (with_sessions) {
    Session s1 = new_session(run.string(), "train", 0);
    s1.metrics_offset = 0;
    s1.world = 2;
    Session s2 = s1;
    s2.start_step = 3;  // resumed from the checkpoint of step 2: step 3 is the first it logs
    s2.metrics_offset = static_cast<std::int64_t>(first.size());
    append_session(run.string(), s1);
    append_session(run.string(), s2);
  }
  write(run / "config.toml", "[model]\narch = \"resnet18\"  # a <comment> & more\n");
  write(run / "eval/epoch-001/metrics.json", wsol_metrics(40));
  write_png(run / "eval/epoch-001/heatmaps.png");
  write(run / "eval/epoch-002/metrics.json", wsol_metrics(50));
  write_png(run / "eval/epoch-002/heatmaps.png");
  write(run / "checkpoints/ignored/metrics.json", wsol_metrics(1));
  write(run / "seg/metrics.json",
        R"({"images":4,"ground_truth":"gt/<stem>.png","cues":{"dir":"cues","scores":{"miou":0.5,"fp":0.2,"fn":0.3,)"
        R"("pixel_accuracy":0.8,"iou":{"background":0.7,"cat":null}}},"sweep":{"points":[{"bg_threshold":0.1,"miou":0.3,)"
        R"("fp":0.4,"fn":0.1},{"bg_threshold":0.2,"miou":0.4,"fp":0.3,"fn":0.2}],"best":{"bg_threshold":0.2,)"
        R"("scores":{"miou":0.4,"fp":0.3,"fn":0.2,"iou":{}}}}})");
  write_png(run / "seg/samples.png");
  return run;
}

std::vector<std::int64_t> steps(const std::vector<MetricLine>& lines) {
  std::vector<std::int64_t> out;
  for (const auto& l : lines) out.push_back(l.step);
  return out;
}

TEST(ReportData, FindsTrainingWsolAndSegFoldersKeepingTheNewestEpochEvaluation) {
  const fs::path run = make_run("units", true);
  std::vector<std::string> names;
  for (const ReportUnit& u : find_report_units(run)) names.push_back(u.name);
  EXPECT_EQ(names, (std::vector<std::string>{".", "eval/epoch-002", "seg"}));
  fs::remove_all(run);
}

TEST(ReportData, SessionsHideTheStepsThatAResumeTrainedAgain) {
  const fs::path run = make_run("sessions", true);
  const auto lines = read_metric_lines(run, read_sessions(run.string()));
  EXPECT_EQ(steps(lines.at("train")), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_DOUBLE_EQ(lines.at("train")[2].get("loss", 0), 0.9);  // the resumed session's step 3
  EXPECT_EQ(steps(lines.at("eval")), (std::vector<std::int64_t>{2, 4}));
  fs::remove_all(run);
}

TEST(ReportData, WithoutSessionsARepeatedStepHidesTheEarlierLines) {
  const fs::path run = make_run("nosessions", false);
  const auto lines = read_metric_lines(run, {});
  EXPECT_EQ(steps(lines.at("train")), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_DOUBLE_EQ(lines.at("train")[2].get("loss", 0), 0.9);
  fs::remove_all(run);
}

TEST(Report, OnePageWithChartsImagesTablesAndTheEscapedConfig) {
  const fs::path run = make_run("page", true);
  ReportSummary s;
  const std::string html = render_report(run.string(), &s);
  EXPECT_EQ(s.sections.size(), 3u);
  EXPECT_EQ(s.images, 2);  // the newest evaluation's heatmaps, the seg samples
  // training: loss, learning rate, throughput; eval lines: accuracy, best tau;
  // WSOL: the tau sweep, BoxAcc; seg: mIoU sweep, FP/FN sweep.
  EXPECT_EQ(s.charts, 9);
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<svg class=\"chart\""), 9u);
  EXPECT_EQ(count("src=\"data:image/png;base64,"), 2u);
  EXPECT_NE(html.find("&lt;comment&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(html.find("<comment>"), std::string::npos);
  EXPECT_NE(html.find("data-series=\"loss\""), std::string::npos);
  EXPECT_NE(html.find("BoxAcc iou_0.5"), std::string::npos);
  EXPECT_NE(html.find("6.7 img/s"), std::string::npos);  // mean of 6, 7, 7 (the first window is warm-up)
  EXPECT_EQ(html.find("http://") == std::string::npos || html.find("http://www.w3.org/2000/svg") != std::string::npos,
            true);  // no external resource: the only URL is the SVG namespace
  EXPECT_EQ(html.find("<link"), std::string::npos);
  const ReportSummary written = write_report(run.string(), (run / "report.html").string());
  EXPECT_TRUE(fs::is_regular_file(run / "report.html"));
  EXPECT_EQ(written.charts, 9);
  fs::remove_all(run);
}

TEST(Report, AFolderWithNothingToReportIsAUsageError) {
  const fs::path empty = fs::temp_directory_path() / ("c2am_test_report_empty_" + std::to_string(getpid()));
  fs::create_directories(empty);
  EXPECT_THROW(render_report(empty.string()), UsageError);
  fs::remove_all(empty);
}

TEST(Html, EscapesMarkupAndEncodesBase64) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace c2am::monitor
