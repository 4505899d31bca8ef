// Fuzz harness: .npy files (cams::parse_npy), plain arrays and object arrays
// through the pickle VM with numpy's and torch's hooks (allow_pickle), as
// `c2am convert-cams` reads CAM dicts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "cams/npy.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto a = c2am::cams::parse_npy(bytes, "fuzz.npy", /*allow_pickle=*/true);
    const auto n = static_cast<std::size_t>(a.size());
    if (a.dtype == c2am::cams::DType::kObject) {
      if (a.objects.size() != n) std::abort();
    } else {
      if (a.data.size() != n * c2am::cams::dtype_size(a.dtype)) std::abort();
      if (a.to_double("fuzz.npy").size() != n) std::abort();
    }
  } catch (const std::exception&) {
  }
  return 0;
}
