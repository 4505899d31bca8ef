// Implements: tests of util/half.h against numpy's float16 (/usr/bin/python3
// with python3-numpy writes the reference bits at test time): every half
// value round-trips, and float -> half rounds exactly as numpy does,
// including ties, subnormals, overflow and the carry into the exponent that
// HDF5 1.10 gets wrong.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "util/half.h"

namespace {

TEST(Half, EveryHalfValueRoundTrips) {
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float f = c2am::util::half_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(c2am::util::half_to_float(c2am::util::float_to_half(f)))) << bits;
    } else {
      ASSERT_EQ(c2am::util::float_to_half(f), h) << fmt::format("0x{:04x} = {}", bits, f);
    }
  }
  EXPECT_EQ(c2am::util::half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(c2am::util::half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(c2am::util::half_to_float(0x7bff), 65504.0f);
}

TEST(Half, FloatToHalfRoundsAsNumpy) {
  const std::string dir = fmt::format("/tmp/c2am_test_half_{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/make.py") << R"PY(
import sys, numpy as np
rng = np.random.default_rng(0)
h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
h = h[np.isfinite(h)]
bits = h.view(np.uint32)
# Every half value, the midpoints next to it (ties) and one ulp either side of them, random floats.
x = np.concatenate([h, (bits + 0x1000).view(np.float32), (bits + 0x0fff).view(np.float32),
                    (bits + 0x1001).view(np.float32), rng.uniform(0, 1, 20000).astype(np.float32),
                    (rng.standard_normal(20000) * 1e-5).astype(np.float32),
                    np.float32([0.999785, 1e-6, 6e-8, 3e-8, 2.98e-8, 65504, 65519, 65520, 1e30, np.inf, -np.inf])])
x = x[np.isfinite(x) | np.isinf(x)]
with np.errstate(over='ignore'):
    ref = x.astype(np.float16).view(np.uint16)
x.tofile(sys.argv[1] + '/x.bin')
ref.tofile(sys.argv[1] + '/ref.bin')
)PY";
  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 {0}/make.py {0}", dir).c_str()), 0)
      << "this test needs /usr/bin/python3 with numpy (Debian: python3-numpy)";
  const auto read = [&](const char* name) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string xs = read("x.bin"), refs = read("ref.bin");
  std::filesystem::remove_all(dir);
  ASSERT_EQ(xs.size(), refs.size() * 2);
  ASSERT_GT(xs.size(), 100000u);
  size_t wrong = 0;
  for (size_t i = 0; i < refs.size() / 2; ++i) {
    float x = 0;
    std::uint16_t ref = 0;
    std::memcpy(&x, xs.data() + 4 * i, 4);
    std::memcpy(&ref, refs.data() + 2 * i, 2);
    const std::uint16_t got = c2am::util::float_to_half(x);
    if (got != ref && wrong++ < 10)
      ADD_FAILURE() << fmt::format("{:.9g}: 0x{:04x}, numpy 0x{:04x}", x, got, ref);
  }
  EXPECT_EQ(wrong, 0u);
}

}  // namespace
