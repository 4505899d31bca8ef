// Implements: reading an encoded image's width and height from its header
// (JPEG SOF marker, PNG IHDR chunk) without decoding the pixels, so that
// packing untouched bytes stays I/O-bound.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace c2am::data_prep {

struct ImageSize {
  int width = 0;
  int height = 0;
};

// The size stored in a JPEG or PNG header, recognised by its signature (not
// the file name: ImageNet holds a PNG named .JPEG). Throws c2am::Error naming
// `name_for_errors` when the data is neither or the header is truncated.
ImageSize read_image_size(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors);

}  // namespace c2am::data_prep
