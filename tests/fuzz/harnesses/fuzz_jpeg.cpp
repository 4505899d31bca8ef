// Fuzz harness: JPEG decoding (image::decode_jpeg through TurboJPEG) with the
// loader's options: the first byte picks a DCT-scaling hint, the decode limit
// is 4 MP (a header claiming more must be refused before any allocation).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_common.h"
#include "image/jpeg.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int hint = data[0] % 4 == 0 ? 0 : 16 << (data[0] % 4);  // 0, 32, 64, 128
  try {
    std::array<int, 2> stored{};
    const auto img = c2am::image::decode_jpeg(data + 1, size - 1, "fuzz.jpg", hint, &stored, 4'000'000);
    if (img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * img.channels) std::abort();
  } catch (const std::exception&) {
  }
  return 0;
}
