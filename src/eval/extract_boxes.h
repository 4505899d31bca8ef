// Implements: `c2am extract-boxes`, the WSOL deliverable: one pseudo box per
// image of a split (CorLoc protocol at one tau: largest contour of the
// map-resolution map, scaled into the test crop), mapped back to the original
// image's pixels. The split runs as a resumable job (jobs/image_jobs.h):
// chunks of 8 batches of eval.batch_size images dealt to the ranks; a chunk's
// boxes are written atomically to OUT/parts/boxes-<chunk>.jsonl, then its done
// marker; a rerun redoes only the chunks without a marker. Rank 0 merges the
// chunks into OUT/boxes.jsonl (sorted by index) and exports
// OUT/pseudo_boxes.json in the reference's PSOL format. Formats: docs/wsol.md.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "image/image.h"
#include "data/loader.h"
#include "comm/communicator.h"
#include "util/log.h"

namespace c2am::eval {

struct ExtractBoxesOptions {
  std::string checkpoint;            // file or run folder (newest valid checkpoint)
  std::string out_dir;               // parts/, boxes.jsonl, pseudo_boxes.json
  std::string split = "train";       // train | val | test
  std::optional<double> threshold;   // unset: the checkpoint's best_threshold
  bool force = false;                // discard earlier parts and start over
  std::string psol_root;             // prefix of the PSOL keys ("" = relative keys)
};

// (x0, y0, x1, y1) in original image pixels.
using PixelBox = std::array<double, 4>;

// One line of a chunk file and of boxes.jsonl.
struct BoxRecord {
  std::int64_t index = -1;           // global sample index in the split
  std::string name;                  // dataset-relative path
  PixelBox box{};                    // original image pixels, rounded to 1/1000 px
  std::array<int, 2> image_size{};   // (w, h) of the stored image
  std::array<int, 2> map_size{};     // (w, h) of the score map
  double threshold = 0.0;
};

struct ExtractBoxesResult {
  std::string checkpoint;
  int polarity = 0;
  double threshold = 0.0;
  std::int64_t total = 0;            // samples in the split
  std::int64_t resumed = 0;          // images of the chunks done when this run started
  std::int64_t processed = 0;        // images this run processed (all ranks; skipped ones included)
  std::int64_t written = 0;          // lines in boxes.jsonl
  double seconds = 0.0;
  std::string boxes_file;
  std::string psol_file;
};

// A box in test-crop coordinates back in the original image's pixels: undo
// the centre crop (add its offset), undo the square resize (scale each axis
// by original / resize), clip to [0, w] x [0, h], round to 1/1000 px.
PixelBox crop_box_to_original(const image::Box& crop_box, int orig_w, int orig_h, const data::Transform& t);

// JSON line (no newline) and back. parse_box_record returns nullopt for a
// line that is not a complete record.
std::string box_record_to_json(const BoxRecord& r);
std::optional<BoxRecord> parse_box_record(const std::string& line);

// Images per chunk of the job: kBoxBatchesPerChunk batches of eval.batch_size.
constexpr std::int64_t kBoxBatchesPerChunk = 8;
std::int64_t box_chunk_size(int batch_size);

// OUT/parts/boxes-<chunk, 6 digits>.jsonl: the boxes of one chunk.
std::string box_chunk_file(const std::string& out_dir, std::int64_t chunk);

// Writes `records` (a chunk's, in index order) to `path` atomically, one JSON
// line each.
void write_box_chunk(const std::string& path, const std::vector<BoxRecord>& records);

// The records of one chunk file. A line that is not a whole record (also an
// unterminated last line) throws c2am::Error naming file and line.
std::vector<BoxRecord> read_box_chunk(const std::string& path);

// The records of every chunk of a finished job over `dataset` (chunks of
// `chunk_size` samples), in index order. Each chunk must be done (its marker)
// and its file must hold only its own samples, in order, under the dataset's
// names; errors name the file (and line).
std::vector<BoxRecord> merge_box_chunks(const std::string& out_dir, const data::Dataset& dataset,
                                        std::int64_t chunk_size);

// The reference's PSOL value for a record: [x, y, w, h] of the box divided by
// the image's width / height (= the reference's coordinates in the 480 x 480
// resized image divided by 480).
std::array<double, 4> psol_value(const BoxRecord& r);
// Inverse, as the PSOL loader reads it back (without its ceil): x0, y0, x1, y1 in pixels.
PixelBox psol_to_original(const std::array<double, 4>& v, int orig_w, int orig_h);
// The PSOL key of a dataset-relative name: <root>/<split>/<class folder>/<file>
// (root "" gives "<split>/<class>/<file>").
std::string psol_key(const std::string& name, const std::string& split, const std::string& root);
// pseudo_boxes.json: one object {key: [x, y, w, h], ...} over `records`.
std::string psol_json(const std::vector<BoxRecord>& records, const std::string& split, const std::string& root);

// Runs the command on every rank of `comm` (identical call sites).
ExtractBoxesResult extract_boxes(const config::Config& cfg, const ExtractBoxesOptions& options,
                                 comm::Communicator& comm, const util::Logger& log);

}  // namespace c2am::eval
