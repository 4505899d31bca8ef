// Implements: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
// checksum of TFRecord framing, and the "masked" form TensorFlow stores so a
// CRC of data that itself holds CRCs stays well distributed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace c2am::monitor {

// CRC-32C of `size` bytes, continuing from `crc` (0 to start). crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
inline std::uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }

// TensorFlow's mask: rotate right by 15 bits, add 0xA282EAD8 (mod 2^32).
std::uint32_t mask_crc(std::uint32_t crc);
std::uint32_t unmask_crc(std::uint32_t masked);

}  // namespace c2am::monitor
