// Implements: turning one source record into the sample `c2am pack` stores:
// the file's bytes untouched (size from the header), or decoded, shrunk and
// re-encoded with its boxes and mask scaled to match.
#pragma once
#include <string>

#include "data/shards.h"
#include "data_prep/sources.h"

namespace c2am::data_prep {

struct SampleOptions {
  int reencode_max_side = 0;  // 0 = bytes untouched
  int jpeg_quality = 90;
};

// Reads (and with reencode_max_side > 0 decodes, checking the image is
// complete, and re-encodes those larger than the limit) one record. Errors
// (c2am::Error) name the file: unreadable, not a JPEG/PNG, corrupt, or a mask
// whose size differs from the image's.
data::PackedSample prepare_sample(const SourceRecord& record, const SampleOptions& options);

}  // namespace c2am::data_prep
