// Implements: turning one source record into the sample `c2am pack` stores:
// the file's bytes untouched (size from the header), or decoded, shrunk and
// re-encoded with its boxes and mask scaled to match.
#pragma once
#include <string>

#include "data/shards.h"
#include "data_prep/sources.h"

namespace c2am::data_prep {

// How far (pixels) a box may reach beyond the image it annotates: boxes must
// satisfy -tol <= x0 <= x1 <= width + tol and -tol <= y0 <= y1 <= height + tol
// in the source image's pixels, else the run fails naming the annotation's
// file:line (rounding in the annotation tools puts real boxes up to 1 px out).
inline constexpr float kBoxTolerancePx = 1.0f;

struct SampleOptions {
  int reencode_max_side = 0;  // 0 = bytes untouched
  int jpeg_quality = 90;
};

// Reads (and with reencode_max_side > 0 decodes, checking the image is
// complete, and re-encodes those larger than the limit) one record. Errors
// (c2am::Error) name the file: unreadable, not a JPEG/PNG, corrupt, a mask
// whose size differs from the image's, or a box outside the image (beyond
// kBoxTolerancePx), named by its annotation's file:line.
data::PackedSample prepare_sample(const SourceRecord& record, const SampleOptions& options);

}  // namespace c2am::data_prep
