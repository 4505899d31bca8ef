// Implements: SVG line charts (see svg_chart.h).
#include "monitor/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "monitor/html.h"

namespace c2am::monitor {

namespace {

constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr int kLeft = 64, kRight = 16, kTop = 30, kBottom = 44;
constexpr size_t kMarkedPoints = 60;  // series this short get hover markers

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

// A step of 1, 2 or 5 times a power of ten giving about `count` intervals.
double nice_step(double span, int count) {
  const double raw = span / count;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

struct Axis {
  double lo, hi, step;
};

Axis nice_axis(Range r, int count) {
  if (r.empty()) r = {0, 1};
  if (r.hi - r.lo < 1e-12 * std::max(1.0, std::fabs(r.hi))) {
    const double pad = r.hi == 0 ? 1 : std::fabs(r.hi) * 0.1;
    r.lo -= pad;
    r.hi += pad;
  }
  const double step = nice_step(r.hi - r.lo, count);
  return {std::floor(r.lo / step) * step, std::ceil(r.hi / step) * step, step};
}

std::string tick_label(double v, double step) {
  if (std::fabs(v) < step * 1e-9) return "0";
  const double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.2g}", v);
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, std::min(decimals, 6));
}

std::vector<size_t> thinned(size_t n, size_t max_points) {
  std::vector<size_t> idx;
  if (n <= max_points) {
    for (size_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  for (size_t k = 0; k < max_points; ++k) idx.push_back(k * (n - 1) / (max_points - 1));
  return idx;
}

}  // namespace

std::string svg_line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  Range xr, yr;
  for (const Series& s : series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xr.add(s.x[i]);
        yr.add(s.y[i]);
      }
    }
  }
  const int w = o.width, h = o.height;
  const int pw = w - kLeft - kRight, ph = h - kTop - kBottom;
  std::string svg = fmt::format(
      R"(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">)",
      w, h, w, h, html_escape(o.title));
  svg += fmt::format(R"(<text x="{}" y="18" class="chart-title">{}</text>)", kLeft, html_escape(o.title));
  if (xr.empty()) {
    svg += fmt::format(R"(<text x="{}" y="{}" class="no-data">no data</text></svg>)", w / 2 - 24, h / 2);
    return svg;
  }
  const Axis xa = nice_axis(xr, 6), ya = nice_axis(yr, 5);
  auto px = [&](double x) { return kLeft + (x - xa.lo) / (xa.hi - xa.lo) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - ya.lo) / (ya.hi - ya.lo) * ph; };

  svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" class="plot"/>)", kLeft, kTop, pw, ph);
  for (double v = ya.lo; v <= ya.hi + ya.step * 1e-6; v += ya.step) {
    const double y = py(v);
    svg += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" class="grid"/>)", kLeft, y, kLeft + pw, y);
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" class="tick" text-anchor="end">{}</text>)", kLeft - 6, y + 4,
                       tick_label(v, ya.step));
  }
  for (double v = xa.lo; v <= xa.hi + xa.step * 1e-6; v += xa.step) {
    const double x = px(v);
    svg += fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" class="grid"/>)", x, kTop, x, kTop + ph);
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{}</text>)", x, kTop + ph + 16,
                       tick_label(v, xa.step));
  }
  svg += fmt::format(R"(<text x="{}" y="{}" class="axis-label" text-anchor="middle">{}</text>)", kLeft + pw / 2,
                     h - 6, html_escape(o.x_label));
  svg += fmt::format(
      R"svg(<text x="14" y="{}" class="axis-label" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>)svg",
      kTop + ph / 2, kTop + ph / 2, html_escape(o.y_label));

  int drawn = 0;
  std::string legend;
  for (const Series& s : series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    if (n == 0) continue;
    const char* colour = kColours[drawn % (sizeof kColours / sizeof *kColours)];
    std::string points;
    auto close_line = [&] {
      if (points.empty()) return;
      svg += fmt::format(R"(<polyline class="series" data-series="{}" fill="none" stroke="{}" points="{}"/>)",
                         html_escape(s.name), colour, points);
      points.clear();
    };
    for (const size_t i : thinned(n, static_cast<size_t>(std::max(2, o.max_points)))) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        close_line();
        continue;
      }
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(s.x[i]), py(s.y[i]));
    }
    close_line();
    if (n <= kMarkedPoints) {
      for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"><title>{}: {} = {:.6g}</title></circle>)",
                           px(s.x[i]), py(s.y[i]), colour, html_escape(s.name), s.x[i], s.y[i]);
      }
    }
    const int ly = kTop + 8 + 14 * drawn;
    legend += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"/>)", kLeft + pw - 150,
                          ly, kLeft + pw - 132, ly, colour);
    legend += fmt::format(R"(<text x="{}" y="{}" class="legend">{}</text>)", kLeft + pw - 128, ly + 4,
                          html_escape(s.name));
    ++drawn;
  }
  if (drawn > 1) svg += legend;
  svg += "</svg>";
  return svg;
}

}  // namespace c2am::monitor
