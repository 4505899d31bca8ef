// Implements: the state of a pack output folder before a run: is it empty,
// a finished or interrupted run of the same plan (continue), or of another
// plan (refuse, or with --force remove the old shards)?
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/shards.h"
#include "data_prep/pack.h"
#include "util/log.h"

namespace c2am::data_prep {

// What this run will write: its plan and the expected name list of each shard.
struct ShardPlan {
  std::string plan_id;
  std::string options_json;
  int num_shards = 0;
  // names[k] = the record names shard k must hold, in order.
  std::vector<std::vector<std::string>> names;
};

// Prepares `options.out` (created if needed) for `plan`:
//  - removes temporary files of an interrupted run;
//  - a manifest.json or shard-*.h5 of another plan: c2am::UsageError
//    ("source or options changed since the first run: ...; use --force to
//    repack"), or with options.force, removes them and the manifest;
// and returns, per shard, the manifest entry of a shard already complete
// (same plan, index, count and names) or nothing when it must be written.
std::vector<std::optional<data::ManifestShard>> prepare_output(const PackOptions& options,
                                                               const ShardPlan& plan,
                                                               const util::Logger& log);

// The same answer for the shards that `wanted` selects, changing nothing in
// `options.out` (the others are nothing): what a rank packing some shards, or
// rank 0 writing the manifest, reads after prepare_output ran once for the job.
std::vector<std::optional<data::ManifestShard>> find_complete_shards(const PackOptions& options,
                                                                     const ShardPlan& plan,
                                                                     const std::function<bool(int)>& wanted,
                                                                     const util::Logger& log);

}  // namespace c2am::data_prep
