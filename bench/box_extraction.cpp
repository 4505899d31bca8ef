// Implements: a benchmark of box extraction alone (no network) on CPU, one
// thread: images/s of (a) one box per map at one tau by the CorLoc protocol
// (8-bit map, threshold, contours, largest contour's bounding rect), as
// `c2am extract-boxes` does per image, and (b) the MaxBoxAccV2 sweep (1000
// thresholds, every contour a box, IoU against a ground-truth box), as
// `c2am eval-wsol` does per image. Maps are seeded, blobby: a few Gaussian
// blobs of random centre, size and weight plus smoothed noise, min-max
// normalised to [0, 1].
// Usage: c2am_bench_box_extraction [--size 448] [--maps 64] [--seconds 3] [--tau 0.5] [--seed 1]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "eval/boxes.h"
#include "eval/maxboxacc.h"

namespace {

struct BlobMap {
  std::vector<float> values;
  c2am::image::Box gt;  // the bounding box of the strongest blob at 2 sigma
};

BlobMap blob_map(int size, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(static_cast<size_t>(size) * size, 0.0);
  const int blobs = 1 + static_cast<int>(u(rng) * 4);  // 1..4
  BlobMap out;
  double strongest = -1.0;
  for (int b = 0; b < blobs; ++b) {
    const double cx = size * (0.15 + 0.7 * u(rng)), cy = size * (0.15 + 0.7 * u(rng));
    const double sx = size * (0.04 + 0.16 * u(rng)), sy = size * (0.04 + 0.16 * u(rng));
    const double w = 0.3 + 0.7 * u(rng);
    if (w > strongest) {
      strongest = w;
      out.gt = c2am::image::Box{static_cast<float>(std::max(0.0, cx - 2 * sx)), static_cast<float>(std::max(0.0, cy - 2 * sy)),
                               static_cast<float>(std::min<double>(size, cx + 2 * sx)),
                               static_cast<float>(std::min<double>(size, cy + 2 * sy))};
    }
    for (int y = 0; y < size; ++y) {
      const double dy = (y - cy) / sy;
      for (int x = 0; x < size; ++x) {
        const double dx = (x - cx) / sx;
        v[static_cast<size_t>(y) * size + x] += w * std::exp(-0.5 * (dx * dx + dy * dy));
      }
    }
  }
  // Smoothed noise: white noise on a coarse 1/16 grid, bilinearly upsampled
  // (a network's map is upsampled from 28 x 28 the same way).
  const int g = std::max(2, size / 16);
  std::vector<double> coarse(static_cast<size_t>(g + 1) * (g + 1));
  for (double& c : coarse) c = 0.15 * u(rng);
  for (int y = 0; y < size; ++y) {
    const double fy = static_cast<double>(y) * g / size;
    const int y0 = static_cast<int>(fy);
    const double ty = fy - y0;
    for (int x = 0; x < size; ++x) {
      const double fx = static_cast<double>(x) * g / size;
      const int x0 = static_cast<int>(fx);
      const double tx = fx - x0;
      auto at = [&](int i, int j) { return coarse[static_cast<size_t>(j) * (g + 1) + i]; };
      v[static_cast<size_t>(y) * size + x] += (1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x0 + 1, y0)) +
                                              ty * ((1 - tx) * at(x0, y0 + 1) + tx * at(x0 + 1, y0 + 1));
    }
  }
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double lo_v = *lo, range = std::max(*hi - *lo, 1e-12);
  out.values.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.values[i] = static_cast<float>((v[i] - lo_v) / range);
  return out;
}

template <typename F>
double images_per_second(const std::vector<BlobMap>& maps, double seconds, F&& per_map, std::int64_t* done) {
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t n = 0;
  double s = 0.0;
  do {
    for (const BlobMap& m : maps) per_map(m);
    n += static_cast<std::int64_t>(maps.size());
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (s < seconds);
  *done = n;
  return static_cast<double>(n) / s;
}

}  // namespace

int main(int argc, char** argv) {
  int size = 448, count = 64;
  double seconds = 3.0, tau = 0.5;
  std::uint64_t seed = 1;
  CLI::App app{"time box extraction from score maps (CPU, one thread)"};
  app.add_option("--size", size, "map side (maps are size x size)")->capture_default_str();
  app.add_option("--maps", count, "distinct seeded maps, cycled")->capture_default_str();
  app.add_option("--seconds", seconds, "minimum time per measurement")->capture_default_str();
  app.add_option("--tau", tau, "threshold of the single-box case")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::mt19937_64 rng(seed);
  std::vector<BlobMap> maps;
  for (int i = 0; i < count; ++i) maps.push_back(blob_map(size, rng));

  using namespace c2am::eval;
  double checksum = 0.0;
  std::int64_t n_single = 0, n_sweep = 0, n_image = 0;
  // (a) what extract-boxes does per image after the network.
  const double single = images_per_second(maps, seconds, [&](const BlobMap& m) {
    const auto boxes = boxes_at_threshold(MapView{m.values.data(), size, size}, tau);
    checksum += boxes[0].x1;
  }, &n_single);
  // The 8-bit conversion alone (part of both).
  const double convert = images_per_second(maps, seconds, [&](const BlobMap& m) {
    checksum += ScoreImage(MapView{m.values.data(), size, size}).max_value();
  }, &n_image);
  // (b) the MaxBoxAccV2 sweep of one image.
  MaxBoxAccAccumulator acc;
  const double sweep = images_per_second(maps, seconds, [&](const BlobMap& m) {
    acc.add(MapView{m.values.data(), size, size}, Scale{}, {m.gt});
  }, &n_sweep);

  fmt::print("box extraction on {} seeded blobby {}x{} float maps, 1 thread\n", count, size, size);
  fmt::print("  8-bit map only             {:9.1f} images/s  ({} images)\n", convert, n_image);
  fmt::print("  CorLoc box at tau {:<5}    {:9.1f} images/s  ({} images)\n", tau, single, n_single);
  fmt::print("  MaxBoxAccV2 sweep (1000 tau, multi-contour) {:9.1f} images/s  ({} images; MaxBoxAccV2 {:.1f}%)\n",
             sweep, n_sweep, acc.result().max_box_acc_v2);
  fmt::print("(checksum {:.0f})\n", checksum);
  return 0;
}
