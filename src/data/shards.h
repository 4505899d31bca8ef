// Implements: the packed dataset format (docs/data-format.md): sharded HDF5
// files, each holding encoded images with an offsets table, labels, names,
// original sizes, per-image xxh64 checksums, and for evaluation splits the
// boxes (several per image) and VOC masks (PNG bytes); plus the JSON manifest
// that lists every shard. Writing goes through a temporary name and a rename;
// reading is random access by (shard, index). No LibTorch here.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image/image.h"

namespace c2am::data {

inline constexpr const char* kShardFormat = "c2am-shards";
// Format 2 (written): fixed-length string attributes, names as bytes plus
// offsets, per-mask checksums and a metadata checksum. Format 1 (read): its
// strings are variable-length, and only the image bytes are checksummed.
inline constexpr int kShardFormatVersion = 2;
inline constexpr const char* kManifestName = "manifest.json";

// One sample as packed: the encoded bytes and their metadata.
struct PackedSample {
  std::string name;                 // path relative to the source root (unique in the split)
  int label = -1;                   // 0-based class, -1 = none
  int width = 0, height = 0;        // of the image the bytes decode to
  std::vector<std::uint8_t> bytes;  // encoded image (JPEG or PNG), untouched unless re-encoded
  std::vector<image::Box> boxes;           // in the pixels of the packed image; may be empty
  std::vector<std::uint8_t> mask;   // PNG bytes of a VOC class-index mask; may be empty
};

// The attributes every shard carries (also repeated in the manifest).
struct ShardInfo {
  std::string layout;    // cub | imagenet | voc | folder
  std::string split;     // train | val | test
  int shard_index = 0;
  int num_shards = 0;
  std::string plan_id;   // fingerprint of (source listing, options): a rerun with another plan is detected
};

// Writes one shard to `<path>.tmp` and renames it to `path` on finish().
class ShardWriter {
 public:
  ShardWriter(const std::string& path, const ShardInfo& info);
  ~ShardWriter();  // an unfinished shard's temporary file is removed
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;
  void add(const PackedSample& sample);
  void finish();  // writes datasets + attributes, fsyncs, renames
  std::uint64_t checksum() const;  // shard_checksum() of the images added so far (the manifest's)

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What the manifest knows of a format-2 shard's file before libhdf5 reads it:
// the byte ranges of its image and mask data (contiguous datasets) and the
// xxh64 of every other byte of the file (the HDF5 structure: superblock,
// object headers, heaps, the small datasets). A reader given it hashes those
// bytes first and hands the file to libhdf5 only when they match: libhdf5
// 1.10 can crash on damaged structures (fuzzing found a use-after-free), and
// damage to the data ranges is caught by the per-image checksums instead.
struct ShardHeader {
  std::uint64_t checksum = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> data;  // (offset, size), ascending
  bool operator==(const ShardHeader& o) const { return checksum == o.checksum && data == o.data; }
};

// Random-access reader of one shard. Thread-safe: HDF5 calls are serialised.
// Opening checks the schema and, for format 2, the metadata checksum; every
// image_bytes / mask_bytes call checks the bytes' stored xxh64. A shard older
// than `oldest_version` is refused (2: no variable-length strings are read).
// With `expected` (from the manifest), the file's structure is checked
// against it before libhdf5 opens the file, and its data ranges after.
class ShardReader {
 public:
  explicit ShardReader(const std::string& path, int oldest_version = 1, const ShardHeader* expected = nullptr);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  const ShardInfo& info() const;
  const std::string& path() const;
  std::int64_t size() const;
  // Metadata is loaded once at open; bytes are read per call.
  const std::string& name(std::int64_t i) const;
  int label(std::int64_t i) const;
  int width(std::int64_t i) const;
  int height(std::int64_t i) const;
  const std::vector<image::Box>& boxes(std::int64_t i) const;
  std::uint64_t stored_checksum(std::int64_t i) const;
  // Errors name shard, index and name: a failed read, or bytes whose xxh64
  // is not the stored one ("checksum mismatch").
  std::vector<std::uint8_t> image_bytes(std::int64_t i) const;
  std::vector<std::uint8_t> mask_bytes(std::int64_t i) const;   // empty when none
  bool has_masks() const;
  // The header of this (format-2) file as it is now: for the manifest.
  // nullopt for format 1 (chunked data, no header in its manifests).
  std::optional<ShardHeader> header() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct ManifestShard {
  std::string file;  // relative to the manifest's folder
  std::int64_t count = 0;
  std::uint64_t checksum = 0;  // ShardWriter::checksum()
  std::optional<ShardHeader> header;  // format 2 (ShardReader::header()); absent in format-1 manifests
};

struct Manifest {
  std::string format = kShardFormat;
  int version = kShardFormatVersion;
  std::string layout, split, source, plan_id;
  std::vector<std::string> classes;  // index = label
  std::vector<ManifestShard> shards;
  std::int64_t count = 0;
  std::string options_json;  // the pack options, as JSON text
};

void write_manifest(const std::string& dir, const Manifest& m);  // atomic
// Errors name the file and key. Refused: a shard file that is absolute, empty,
// or not a plain name inside `dir` ("..", "/", "\\"), and a file listed twice.
Manifest read_manifest(const std::string& dir);

// What differs between shard k of `m` (read from `manifest_path`) and the
// opened shard `r`: its layout, split, plan_id, shard_index, num_shards and
// image count against the manifest's; each problem names the shard, the
// attribute and the manifest. Empty when they agree.
std::vector<std::string> shard_manifest_mismatches(const Manifest& m, std::size_t k, const ShardReader& r,
                                                   const std::string& manifest_path);

// 64-bit xxHash of bytes (seed 0), the per-image checksum.
std::uint64_t checksum64(const std::uint8_t* data, std::size_t size);
// The shard checksum: checksum64 over the per-image checksums, in order, each
// as 8 little-endian bytes (ShardWriter::checksum(), the manifest's "checksum").
std::uint64_t shard_checksum(const std::vector<std::uint64_t>& image_checksums);

struct VerifyReport {
  std::int64_t images = 0;
  std::int64_t decoded = 0;
  std::vector<std::string> problems;  // each names the shard and index
};
// Checks schema, counts, checksums against the manifest; with `decode`, also that every image decodes.
VerifyReport verify_packed(const std::string& dir, bool decode, int threads);

}  // namespace c2am::data
