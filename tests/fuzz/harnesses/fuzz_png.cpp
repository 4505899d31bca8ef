// Fuzz harness: PNG decoding (image::decode_png through libpng), palette as
// indices or expanded (the first byte picks), decode limit 4 MP.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_common.h"
#include "image/png.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool expand = (data[0] & 1) != 0;
  try {
    const auto img = c2am::image::decode_png(data + 1, size - 1, "fuzz.png", expand, 4'000'000);
    if (img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * img.channels) std::abort();
  } catch (const std::exception&) {
  }
  return 0;
}
