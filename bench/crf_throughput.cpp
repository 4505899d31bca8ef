// Implements: a benchmark of the background-cue CRF alone (wsss/dense_crf.h)
// on CPU: crf_refine_labels on a seeded synthetic VOC-size RGB image (a
// gradient background and a few coloured ellipses, pixel noise) with a noisy
// 2-label map (the ellipses, ~20 % of pixels flipped, wrong blobs on the
// boundaries); the method doc's parameters (10 iterations). Reports the median
// time per image of the whole call, and of the lattice build (DenseCrf2d's
// constructor: features, both lattices, normalisations) and the mean-field
// iterations separately, as ms per image and megapixels/s.
// Usage: c2am_bench_crf [--threads 1] [--seconds 5] [--width 500] [--height 375] [--iterations 10] [--seed 1]
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "util/error.h"
#include "wsss/dense_crf.h"

namespace {

struct Scene {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
  std::vector<std::uint8_t> clean;  // 1 inside an ellipse
  std::vector<std::uint8_t> noisy;
};

Scene synthetic_scene(int width, int height, double flip, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 6.0);
  Scene s;
  s.width = width;
  s.height = height;
  const std::size_t n = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  s.rgb.resize(n * 3);
  s.clean.assign(n, 0);
  struct Ellipse {
    double cx, cy, rx, ry, r, g, b;
  };
  std::vector<Ellipse> ellipses;
  for (int e = 0; e < 3; ++e)
    ellipses.push_back({width * (0.2 + 0.6 * u(rng)), height * (0.2 + 0.6 * u(rng)),
                        width * (0.08 + 0.12 * u(rng)), height * (0.08 + 0.12 * u(rng)), 40 + 180 * u(rng),
                        40 + 180 * u(rng), 40 + 180 * u(rng)});
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const std::size_t i =
          static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x);
      double c[3] = {90.0 + 60.0 * x / width, 120.0 + 40.0 * y / height, 70.0};
      for (const Ellipse& el : ellipses) {
        const double dx = (x - el.cx) / el.rx, dy = (y - el.cy) / el.ry;
        if (dx * dx + dy * dy <= 1.0) {
          c[0] = el.r;
          c[1] = el.g;
          c[2] = el.b;
          s.clean[i] = 1;
        }
      }
      for (int k = 0; k < 3; ++k)
        s.rgb[i * 3 + static_cast<std::size_t>(k)] =
            static_cast<std::uint8_t>(std::clamp(c[k] + noise(rng), 0.0, 255.0));
    }
  }
  s.noisy = s.clean;
  for (std::uint8_t& l : s.noisy)
    if (u(rng) < flip) l = static_cast<std::uint8_t>(1 - l);
  // A disc of wrong labels centred on each ellipse's right boundary.
  for (const Ellipse& el : ellipses) {
    const double bx = el.cx + el.rx, by = el.cy, radius = 0.4 * std::min(el.rx, el.ry);
    for (int y = std::max(0, static_cast<int>(by - radius));
         y < std::min(height, static_cast<int>(by + radius) + 1); ++y)
      for (int x = std::max(0, static_cast<int>(bx - radius));
           x < std::min(width, static_cast<int>(bx + radius) + 1); ++x)
        if ((x - bx) * (x - bx) + (y - by) * (y - by) <= radius * radius) {
          const std::size_t i =
              static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x);
          s.noisy[i] = static_cast<std::uint8_t>(1 - s.clean[i]);
        }
  }
  return s;
}

double agreement(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int width = 500, height = 375;
  double seconds = 5.0, flip = 0.2;
  std::uint64_t seed = 1;
  c2am::wsss::CrfParams params;
  CLI::App app{"time the background-cue dense CRF (permutohedral lattice) on a synthetic VOC-size image"};
  app.add_option("--threads", params.threads, "CPU threads of the CRF")->capture_default_str();
  app.add_option("--seconds", seconds, "minimum time per measurement")->capture_default_str();
  app.add_option("--width", width)->capture_default_str();
  app.add_option("--height", height)->capture_default_str();
  app.add_option("--iterations", params.iterations, "mean-field iterations")->capture_default_str();
  app.add_option("--flip", flip, "fraction of labels flipped at random")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const Scene s = synthetic_scene(width, height, flip, seed);
    const double pixels = static_cast<double>(s.clean.size());
    using clock = std::chrono::steady_clock;

    // (a) the whole bg-cue step, as the pipeline calls it.
    std::vector<double> whole;
    std::vector<std::uint8_t> refined;
    const auto start = clock::now();
    do {
      const auto t0 = clock::now();
      refined = c2am::wsss::crf_refine_labels(s.rgb.data(), width, height, s.noisy.data(), 2, params);
      whole.push_back(ms_since(t0));
    } while (ms_since(start) < 1000.0 * seconds);

    // (b) its two parts: the lattice build and the iterations.
    const std::vector<float> unary =
        c2am::wsss::unary_from_labels(s.noisy.data(), s.noisy.size(), 2, params.gt_prob);
    std::vector<double> build, iterate;
    const auto start_parts = clock::now();
    do {
      auto t0 = clock::now();
      const c2am::wsss::DenseCrf2d crf(s.rgb.data(), width, height, params);
      build.push_back(ms_since(t0));
      t0 = clock::now();
      const std::vector<float> q = crf.inference(unary, 2);
      iterate.push_back(ms_since(t0));
    } while (ms_since(start_parts) < 1000.0 * seconds);

    const double ms = median(whole);
    fmt::print("dense CRF on a seeded synthetic {}x{} RGB image, 2 labels, {} iterations, {} thread(s)\n",
               width, height, params.iterations, params.threads);
    fmt::print("  crf_refine_labels  {:8.1f} ms/image  {:6.3f} MP/s   (median of {} runs)\n", ms,
               pixels / (ms / 1000.0) / 1e6, whole.size());
    fmt::print(
        "  lattice build      {:8.1f} ms/image                (median of {} runs; features, 2 lattices, "
        "norms)\n",
        median(build), build.size());
    fmt::print("  {:2d} iterations      {:8.1f} ms/image  {:6.3f} MP/s   (median of {} runs)\n",
               params.iterations, median(iterate), pixels / (median(iterate) / 1000.0) / 1e6, iterate.size());
    fmt::print("  labels equal to the clean map: noisy input {:.4f}, CRF output {:.4f}\n",
               agreement(s.noisy, s.clean), agreement(refined, s.clean));
  } catch (const c2am::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return c2am::kExitFailure;
  }
  return c2am::kExitOk;
}
