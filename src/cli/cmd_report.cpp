// Implements: `c2am report RUN`: one self-contained HTML page about a
// training run, a WSOL evaluation or a WSSS folder (monitor/report.h).
#include <fmt/core.h>

#include "cli/commands.h"
#include "monitor/report.h"

namespace c2am::cli {

namespace {
struct ReportArgs {
  std::string run;
  std::string out;
};
}  // namespace

void add_report(CLI::App& app, Action* action) {
  auto* a = new ReportArgs();
  CLI::App* cmd = app.add_subcommand(
      "report", "one self-contained HTML page of a run: curves, contact sheets, metrics, config, machines");
  cmd->add_option("run", a->run, "run folder: a training run, an evaluation output, or a folder holding several")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--out", a->out, "the HTML file to write (default: RUN/report.html)");
  cmd->footer(
      "Finds training runs (metrics.jsonl), WSOL evaluations and eval-seg outputs (metrics.json) up to three\n"
      "levels down; open the page in any browser, no server needed (docs/monitoring.md).\n"
      "Example: c2am report runs/demo && xdg-open runs/demo/report.html\n"
      "Example: c2am report runs/wsss -o /tmp/wsss.html");
  cmd->callback([a, action] {
    *action = [a] {
      const std::string out = a->out.empty() ? a->run + "/report.html" : a->out;
      const monitor::ReportSummary s = monitor::write_report(a->run, out);
      for (const std::string& section : s.sections) fmt::print("section  {}\n", section);
      fmt::print("report   {} ({} charts, {} images)\n", out, s.charts, s.images);
      return 0;
    };
  });
}

}  // namespace c2am::cli
