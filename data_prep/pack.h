// Implements: `c2am pack`: one split of a raw layout into sharded HDF5 files
// plus manifest.json (src/data/shards.h), with parallel readers/encoders, one
// in-order writer, optional re-encoding, and resumable, plan-checked output;
// over ranks, the steps of one pack (Packer) that the command runs around its
// collectives (data_prep knows no MPI).
#pragma once
#include <cstdint>
#include <memory>
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

// One pack split into the steps a job of several processes (ranks) runs, in
// this order, with a collective between steps (src/cli/cmd_pack.cpp):
//   every rank:  Packer p(options, log)          validate, scan, plan (reads no OUT)
//   rank 0:      p.prepare_output()              lock OUT, clean up, resume / refuse / --force
//   -- all ranks know step 1 succeeded --
//   every rank:  p.write_shards(rank, world)     shards k with k % world == rank, not yet complete
//   -- all ranks know every rank succeeded --
//   rank 0:      p.write_manifest()              re-reads every shard's entry, writes manifest.json
// pack() is these steps on one process. The shards and manifest do not
// depend on `world` (each shard's bytes are fixed by the plan), so a pack
// over ranks is byte-identical to one by one process, and any mix of runs
// (killed, resumed, other world sizes) ends in the same files.
class Packer {
 public:
  Packer(PackOptions options, const util::Logger& log);  // errors as pack()
  ~Packer();
  Packer(const Packer&) = delete;
  Packer& operator=(const Packer&) = delete;

  // Creates OUT and takes its lock (held until this Packer is destroyed),
  // removes an interrupted run's temporary files, refuses another plan or
  // with --force removes the old files. Once per job, before any write_shards.
  void prepare_output();
  // Writes the shards this rank owns (k % world == rank) that are not
  // complete in OUT. The result counts this rank's work; `images` and
  // `shards` are the whole split's.
  PackResult write_shards(int rank, int world);
  // Writes OUT/manifest.json from every shard's entry: those this process
  // wrote, the others read from their files; a shard that is not complete is
  // an Error naming it. Once per job, after every rank's write_shards.
  void write_manifest();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The shard file name of shard `index` ("shard-00003.h5").
std::string shard_file_name(int index);

}  // namespace c2am::data_prep
