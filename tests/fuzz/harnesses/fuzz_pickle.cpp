// Fuzz harness: the pickle VM (util::pickle::load) with its default hooks,
// then every value it returns walked (dict keys as strings, int lists).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "fuzz_common.h"
#include "util/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  try {
    // A stream of pickles, as numpy object arrays and torch.save write them.
    for (int k = 0; k < 4 && pos < bytes.size(); ++k) {
      const auto v = c2am::util::pickle::load(bytes, nullptr, &pos);
      try {
        (void)c2am::util::pickle::str_keys(*v);
      } catch (const std::exception&) {
      }
      try {
        (void)c2am::util::pickle::int_list(*v, "value");
      } catch (const std::exception&) {
      }
    }
  } catch (const std::exception&) {
  }
  return 0;
}
