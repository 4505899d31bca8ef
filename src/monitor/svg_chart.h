// Implements: line charts as inline SVG for the HTML report: nice axis
// ticks, one polyline per series (a gap where a value is not finite), a
// legend, hover titles on the points of short series. No script, no fonts
// beyond the page's.
#pragma once
#include <string>
#include <vector>

namespace c2am::monitor {

struct Series {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

struct ChartOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 560;
  int height = 300;
  int max_points = 1500;  // longer series are thinned evenly (first and last point kept)
};

// An <svg class="chart"> element; every series is one or more
// <polyline class="series" data-series="name">. Empty series are skipped;
// with nothing to draw the chart says "no data".
std::string svg_line_chart(const std::vector<Series>& series, const ChartOptions& options);

}  // namespace c2am::monitor
