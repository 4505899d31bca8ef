// Fuzz harness: a packed folder's manifest.json (data::read_manifest: JSON,
// keys, shard paths confined to the folder, counts).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "data/shards.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  c2am::fuzz::write_scratch("manifest.json", data, size);
  try {
    const auto m = c2am::data::read_manifest(c2am::fuzz::scratch_dir());
    (void)m;
  } catch (const std::exception&) {
  }
  return 0;
}
