#include "wsss/refine.h"

#include <fmt/format.h>

#include "util/error.h"

namespace c2am::wsss {

namespace {

void check(const CamView& c, const std::string& what) {
  if (c.width <= 0 || c.height <= 0)
    throw Error(fmt::format("{}: CAMs of size {}x{}", what, c.width, c.height));
  const size_t plane = static_cast<size_t>(c.width) * static_cast<size_t>(c.height);
  if (c.values.size() != c.keys.size() * plane) {
    throw Error(fmt::format("{}: {} CAM values for {} keys of {}x{}", what, c.values.size(), c.keys.size(),
                            c.width, c.height));
  }
  for (int k : c.keys) {
    if (k < 1 || k > 254) throw Error(fmt::format("{}: CAM key {} is not a class label 1..254", what, k));
  }
}

// Per pixel: the largest CAM value and its key (the first on ties); 0 / 0 without CAMs.
void strongest(const CamView& c, std::vector<float>& value, std::vector<std::uint8_t>& key) {
  const size_t plane = static_cast<size_t>(c.width) * static_cast<size_t>(c.height);
  value.assign(plane, 0.0f);
  key.assign(plane, 0);
  for (size_t k = 0; k < c.keys.size(); ++k) {
    const float* m = c.values.data() + k * plane;
    const auto label = static_cast<std::uint8_t>(c.keys[k]);
    for (size_t i = 0; i < plane; ++i) {
      if (k == 0 || m[i] > value[i]) {
        value[i] = m[i];
        key[i] = label;
      }
    }
  }
}

}  // namespace

std::vector<std::uint8_t> pseudo_mask(const CamView& cams, const std::uint8_t* cue, double bg_threshold,
                                      const std::string& what) {
  check(cams, what);
  std::vector<float> value;
  std::vector<std::uint8_t> key;
  strongest(cams, value, key);
  std::vector<std::uint8_t> mask(value.size(), 0);
  if (cams.keys.empty()) return mask;
  const auto t = static_cast<float>(bg_threshold);
  for (size_t i = 0; i < mask.size(); ++i) {
    const float bg = cue != nullptr ? 1.0f - static_cast<float>(cue[i]) / 255.0f : t;
    if (value[i] > bg) mask[i] = key[i];
  }
  return mask;
}

void add_threshold_sweep(const CamView& cams, const std::uint8_t* truth,
                         const std::vector<double>& thresholds, std::vector<SegCounts>& counts,
                         const std::string& what) {
  check(cams, what);
  if (counts.size() != thresholds.size()) throw Error("threshold sweep: one count per threshold needed");
  std::vector<float> value;
  std::vector<std::uint8_t> key;
  strongest(cams, value, key);
  std::vector<std::uint8_t> mask(value.size());
  for (size_t j = 0; j < thresholds.size(); ++j) {
    const auto t = static_cast<float>(thresholds[j]);
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = !cams.keys.empty() && value[i] > t ? key[i] : 0;
    counts[j].add(mask.data(), truth, mask.size(), what);
  }
}

std::vector<double> default_bg_thresholds() {
  std::vector<double> t;
  for (int i = 1; i <= 15; ++i) t.push_back(0.05 * i);
  return t;
}

}  // namespace c2am::wsss
