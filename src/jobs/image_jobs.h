// Implements: the one resumable per-image job over a split, shared by the
// per-image commands (extract-boxes; infer-maps, infer-cams, predict-saliency,
// bg-cues). The samples of a split are cut into chunks of consecutive images;
// a chunk is done when OUT/parts/chunk-<k>.done exists (written after every
// output of the chunk, each written atomically); a rerun skips the done chunks
// and deals the others round-robin to the ranks, whatever their number.
// OUT/parts/run.json holds the settings signature (util::claim_parts_dir).
// Each rank prepares (and, when asked, decodes on threads) its next chunk while
// the current one is processed, and reports progress (images/s, ETA).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "data/loader.h"
#include "image/image.h"
#include "util/log.h"

namespace c2am::jobs {

struct JobImage {
  std::int64_t index = -1;  // in the split
  const data::Sample* sample = nullptr;
  std::string stem;  // data::sample_stem: the output files' name (empty unless name_by_stem)
  image::Image rgb;  // full resolution (when the job decodes images)
};

struct ImageJobOptions {
  std::string command;  // "infer-maps", for messages
  std::string out_dir;
  std::string run_json;  // the settings signature (util::claim_parts_dir); holds chunk_size if it can vary
  bool force = false;
  bool decode = true;  // decode each image (RGB, full resolution)
  // Name each image by its stem (JobImage::stem), which must then be unique in
  // the split (per-image output files); false: no stems, no check.
  bool name_by_stem = true;
  int threads = 1;  // decoding threads
  std::int64_t chunk_size = 16;
};

struct ImageJobResult {
  std::int64_t total = 0;      // images in the split
  std::int64_t resumed = 0;    // images of chunks done before this run
  std::int64_t processed = 0;  // images this run processed (all ranks)
  double seconds = 0.0;
};

// Calls `process(chunk, images)` for each of this rank's chunks not yet done,
// then marks the chunk done; every rank calls it (identical call sites).
// Returns after all ranks finished.
ImageJobResult run_image_job(
    const data::Dataset& dataset, const ImageJobOptions& options, comm::Communicator& comm,
    const util::Logger& log,
    const std::function<void(std::int64_t chunk, std::vector<JobImage>& images)>& process);

// The chunks `images` images make: ceil(images / chunk_size).
std::int64_t chunk_count(std::int64_t images, std::int64_t chunk_size);

// OUT/parts.
std::string parts_dir(const std::string& out_dir);

// OUT/parts/<name>-<chunk, 6 digits>.<ext>, e.g. chunk_file(out, "maps", 3, "h5").
std::string chunk_file(const std::string& out_dir, const std::string& name, std::int64_t chunk,
                       const std::string& ext);

// OUT/parts/chunk-<chunk, 6 digits>.done: the marker of a finished chunk.
std::string done_marker(const std::string& out_dir, std::int64_t chunk);

// The stems of a split in sample order; an error naming both samples when two share a stem.
std::vector<std::string> unique_stems(const data::Dataset& dataset);

}  // namespace c2am::jobs
