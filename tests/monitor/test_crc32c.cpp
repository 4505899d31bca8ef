// CRC-32C against published check values (RFC 3720 appendix B.4, the
// "123456789" check value) and a bit-at-a-time reference; the mask round trip.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "monitor/crc32c.h"

namespace c2am::monitor {
namespace {

std::uint32_t bitwise_crc32c(const std::vector<unsigned char>& data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32c, MatchesPublishedCheckValues) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  const std::string zeros(32, '\0'), ones(32, '\xff');
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down), 0x113FDB5Cu);
}

TEST(Crc32c, EightBytesAtATimeEqualsBitAtATimeForEveryLengthAndContinuation) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 300; ++n) {
    std::vector<unsigned char> data(n);
    for (auto& b : data) b = static_cast<unsigned char>(rng());
    ASSERT_EQ(crc32c(data.data(), data.size()), bitwise_crc32c(data)) << "length " << n;
    const size_t cut = n / 3;  // crc of a split buffer continues from the first part's crc
    EXPECT_EQ(crc32c(data.data() + cut, n - cut, crc32c(data.data(), cut)), bitwise_crc32c(data));
  }
}

TEST(Crc32c, MaskIsTensorFlowsRotateAndAddAndRoundTrips) {
  const std::uint32_t crc = 0xE3069283u;
  EXPECT_EQ(mask_crc(crc), static_cast<std::uint32_t>(((crc >> 15) | (crc << 17)) + 0xA282EAD8u));
  for (std::uint32_t v : {0u, 1u, 0xFFFFFFFFu, 0x12345678u, crc}) EXPECT_EQ(unmask_crc(mask_crc(v)), v);
}

}  // namespace
}  // namespace c2am::monitor
