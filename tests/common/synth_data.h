// Implements: the test helpers for small synthetic datasets (synth/synth.h):
// the options of a small one, and writing it into a folder.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "synth/synth.h"

namespace c2am::testing_util {

// A small dataset of `layout`: `train` and `test` (val) images whose sides are
// drawn from [min_size, max_size], painted from `seed`. The other options
// (num_classes, quality, threads) keep the generator's defaults; set them on
// the result where a test needs others.
inline synth::SynthOptions small_synth(const std::string& layout, int train, int test, int min_size,
                                       int max_size, std::uint64_t seed) {
  synth::SynthOptions o;
  o.layout = layout;
  o.num_train = train;
  o.num_test = test;
  o.min_size = min_size;
  o.max_size = max_size;
  o.seed = seed;
  return o;
}

// Writes the dataset `o` into `dir` (removed first); returns the layout's root folder.
inline std::string write_synth(const synth::SynthOptions& o, const std::string& dir) {
  std::filesystem::remove_all(dir);
  return synth::generate(o, dir).root;
}

}  // namespace c2am::testing_util
