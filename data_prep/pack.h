// Implements: `c2am pack`: one split of a raw layout into sharded HDF5 files
// plus manifest.json (src/data/shards.h), with parallel readers/encoders, one
// in-order writer, optional re-encoding, and resumable, plan-checked output.
#pragma once
#include <cstdint>
#include <string>

#include "util/log.h"

namespace c2am::data_prep {

// Bounds of the options (plain UsageErrors beyond them).
inline constexpr int kMaxShardSize = 1'000'000;  // images per shard; a shard is assembled in memory
inline constexpr int kMaxThreads = 1024;
inline constexpr int kMaxSide = 65'500;  // the largest JPEG side

struct PackOptions {
  std::string layout;         // cub | imagenet | voc | folder
  std::string split;          // train | val | test
  std::string source;         // the layout's root folder
  std::string out;            // the packed folder (created)
  int shard_size = 1000;      // images per shard
  int threads = 0;            // reader/encoder threads; 0 = all cores
  int reencode_max_side = 0;  // 0 = keep bytes untouched; else shrink so the longer side <= this, re-encode
  int jpeg_quality = 90;      // for re-encoded images
  bool force = false;         // repack even when `out` holds shards of another plan
};

struct PackResult {
  std::string out;
  std::string plan_id;
  std::int64_t images = 0;  // in the whole split
  int shards = 0;           // in the whole split
  int shards_written = 0;   // by this run
  int shards_skipped = 0;   // already complete from an earlier run of the same plan
  std::int64_t images_written = 0;
  std::uint64_t bytes = 0;  // encoded image + mask bytes written by this run
  double seconds = 0;
  double mb_per_s() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0; }
};

// Packs options.source into options.out. Errors: c2am::UsageError for bad
// options, for an output folder that another pack holds (its lock,
// data_prep/pack_lock.h) and for one that holds another plan ("source or
// options changed since the first run: ...; use --force to repack");
// c2am::Error naming the file (and file:line in annotation files) otherwise.
// Shards of the same plan already complete in `out` are skipped, so a killed
// run continues where it stopped. Progress goes to `log`.
PackResult pack(const PackOptions& options, const util::Logger& log);

// The shard file name of shard `index` ("shard-00003.h5").
std::string shard_file_name(int index);

}  // namespace c2am::data_prep
