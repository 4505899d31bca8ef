// Implements: the plan of a pack run and its fingerprint (plan_id): what the
// shards will contain, so a rerun can tell "same work, continue" from
// "source or options changed".
#pragma once
#include <string>

#include "data_prep/pack.h"
#include "data_prep/sources.h"

namespace c2am::data_prep {

// xxh64 (hex) of: the format version, layout, split, the options that change
// the shards' bytes (shard size, max side, quality when re-encoding), the
// classes, and per record in order its name, label, boxes, and the size and
// modification time (ns) of its image and mask files. Not the source path and
// not the thread count. Stats the files on `threads` threads; errors name the file.
std::string compute_plan_id(const PackOptions& options, const SourceListing& listing, int threads);

// The options stored in the manifest (those that shape the output), as JSON text.
std::string pack_options_json(const PackOptions& options);

}  // namespace c2am::data_prep
