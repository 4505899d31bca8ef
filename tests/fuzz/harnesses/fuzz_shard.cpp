// Fuzz harness: one HDF5 shard of format 2 (data::ShardReader): open (schema,
// external links and storage refused, metadata loaded and checked against
// its checksum), then every sample's metadata, image bytes and mask bytes
// read (each checked against its xxh64). Format 2 is read by c2am's own HDF5
// reader (data/h5_subset.cpp), never by libhdf5; format 1, which only
// libhdf5 reads, is refused here before libhdf5 opens it (its
// variable-length strings go through libhdf5's global heap, which a crafted
// file can hang or crash: docs/data-format.md).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "data/shards.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = c2am::fuzz::write_scratch("shard-00000.h5", data, size);
  try {
    c2am::data::ShardReader r(path, /*oldest_version=*/2);
    for (std::int64_t i = 0; i < r.size() && i < 64; ++i) {
      (void)r.name(i);
      (void)r.label(i);
      (void)r.boxes(i);
      (void)r.stored_checksum(i);
      try {
        const auto bytes = r.image_bytes(i);
        if (r.has_masks()) (void)r.mask_bytes(i);
      } catch (const std::exception&) {
      }
    }
  } catch (const std::exception&) {
  }
  return 0;
}
