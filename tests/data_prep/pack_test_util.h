// Implements: helpers shared by the data_prep tests: per-test temporary
// folders, small synthetic datasets, and reading a packed folder back.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error_message.h"
#include "data/shards.h"
#include "synth/synth.h"

namespace c2am::data_prep::testing_util {

namespace fs = std::filesystem;

// A folder unique to the running test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("c2am_pack_") + info->test_suite_name() + "_" + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A small synthetic dataset of `layout` (12 train, 6 test/val images of 40-64 px) under `dir`.
inline std::string make_synth(const std::string& layout, const std::string& dir, int train = 12,
                              int test = 6) {
  synth::SynthOptions o;
  o.layout = layout;
  o.num_train = train;
  o.num_test = test;
  o.num_classes = 3;
  o.min_size = 40;
  o.max_size = 64;
  o.seed = 5;
  o.threads = 2;
  return synth::generate(o, dir).root;
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
