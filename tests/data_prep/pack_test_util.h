// Implements: helpers shared by the data_prep tests: their small synthetic
// dataset, reading a packed folder back, and error messages (scratch folders
// and the synthetic-data helpers themselves are in tests/common/).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error_message.h"
#include "common/synth_data.h"
#include "common/temp_dir.h"
#include "data/shards.h"
#include "synth/synth.h"

namespace c2am::data_prep::testing_util {

namespace fs = std::filesystem;

using c2am::testing_util::TempDir;

// A small synthetic dataset of `layout` (12 train, 6 test/val images of 40-64 px) under `dir`.
inline std::string make_synth(const std::string& layout, const std::string& dir, int train = 12,
                              int test = 6) {
  synth::SynthOptions o =
      c2am::testing_util::small_synth(layout, train, test, /*min_size=*/40, /*max_size=*/64, /*seed=*/5);
  o.num_classes = 3;
  o.threads = 2;
  return c2am::testing_util::write_synth(o, dir);
}

// A packed folder opened: its manifest and a reader per shard.
struct Packed {
  data::Manifest manifest;
  std::vector<std::unique_ptr<data::ShardReader>> shards;

  explicit Packed(const std::string& dir) : manifest(data::read_manifest(dir)) {
    for (const auto& s : manifest.shards)
      shards.push_back(std::make_unique<data::ShardReader>(dir + "/" + s.file));
  }
  // Calls fn(reader, index) for every image in order.
  void each(const std::function<void(const data::ShardReader&, std::int64_t)>& fn) const {
    for (const auto& r : shards)
      for (std::int64_t i = 0; i < r->size(); ++i) fn(*r, i);
  }
};

// The message of the c2am::Error (or E) that `fn` throws ("" if none).
template <typename E, typename Fn>
std::string error_of(Fn&& fn) {
  return c2am::testing_util::error_message<E>(std::function<void()>(std::forward<Fn>(fn)), "");
}

}  // namespace c2am::data_prep::testing_util
