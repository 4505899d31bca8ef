// Implements: the decode limit shared by the codecs (check_pixel_limit, image.h).
#include "image/image.h"

#include <fmt/core.h>

#include "util/error.h"

namespace c2am::image {

void check_pixel_limit(std::int64_t width, std::int64_t height, std::int64_t max_pixels, const char* format,
                       const std::string& name_for_errors) {
  if (max_pixels <= 0 || width * height <= max_pixels) return;
  throw Error(
      fmt::format("cannot decode {} '{}': its header claims {}x{} = {} pixels, more than the limit of {} "
                  "(data.max_pixels; 0 = no limit)",
                  format, name_for_errors, width, height, width * height, max_pixels));
}

}  // namespace c2am::image
