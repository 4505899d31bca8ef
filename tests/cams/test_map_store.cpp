// The float16 map store of infer-maps: chunk files, the maps.h5 index of
// external links (read through from another working directory, and by h5py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cams/map_store.h"
#include "common/temp_dir.h"
#include "util/error.h"
#include "util/half.h"

namespace {

namespace fs = std::filesystem;
using namespace c2am::cams;  // NOLINT

std::string fresh(const std::string& name) {
  const std::string d = c2am::testing_util::fresh_dir("c2am_maps_" + name);
  fs::create_directories(d + "/parts");
  return d;
}

ScoreMap ramp(int w, int h, float offset) {
  ScoreMap m{w, h, {}};
  for (int i = 0; i < w * h; ++i)
    m.values.push_back(std::fmod(offset + 0.0137f * static_cast<float>(i), 1.0f));
  return m;
}

TEST(MapStore, ChunksAndTheirIndexGiveBackEveryMapAtHalfPrecision) {
  const std::string dir = fresh("roundtrip");
  MapChunkWriter a(dir + "/parts/maps-000000.h5");
  a.add("img_a", ramp(7, 5, 0.0f));
  a.add("img_b", ramp(3, 9, 0.5f));
  a.finish();
  MapChunkWriter b(dir + "/parts/maps-000001.h5");
  b.add("img_c", ramp(4, 4, 0.25f));
  b.finish();
  write_map_index(dir, {{"img_a", "parts/maps-000000.h5"},
                        {"img_b", "parts/maps-000000.h5"},
                        {"img_c", "parts/maps-000001.h5"}});
  // Read through the index from another working directory: links resolve next to maps.h5.
  const fs::path cwd = fs::current_path();
  fs::current_path(testing::TempDir());
  {
    MapReader r(dir + "/maps.h5");
    EXPECT_EQ(r.stems(), (std::vector<std::string>{"img_a", "img_b", "img_c"}));
    EXPECT_TRUE(r.contains("img_b"));
    EXPECT_FALSE(r.contains("img_z"));
    for (auto [stem, w, h, off] : {std::tuple{"img_a", 7, 5, 0.0f}, std::tuple{"img_b", 3, 9, 0.5f},
                                   std::tuple{"img_c", 4, 4, 0.25f}}) {
      const ScoreMap want = ramp(w, h, off);
      const ScoreMap got = r.read(stem);
      ASSERT_EQ(got.width, w);
      ASSERT_EQ(got.height, h);
      for (size_t i = 0; i < want.values.size(); ++i) {
        // Exactly the nearest float16 (numpy's rounding), nothing lost beyond it.
        EXPECT_EQ(got.values[i], c2am::util::half_to_float(c2am::util::float_to_half(want.values[i])))
            << stem << i;
      }
    }
    try {
      r.read("img_z");
      FAIL() << "expected an error";
    } catch (const c2am::Error& e) {
      EXPECT_NE(std::string(e.what()).find("img_z"), std::string::npos) << e.what();
    }
  }
  fs::current_path(cwd);
  // h5py follows the links and sees float16 maps of the stored shapes.
  const std::string script = dir + "/check.py";
  std::ofstream(script) << "import sys, h5py, numpy as np\n"
                           "f = h5py.File(sys.argv[1], 'r')\n"
                           "m = f['maps/img_b']\n"
                           "assert m.dtype == np.float16, m.dtype\n"
                           "assert m.shape == (9, 3), m.shape\n"
                           "assert abs(float(m[0, 0]) - 0.5) < 1e-3\n"
                           "assert f.attrs['format'] in ('c2am-maps', b'c2am-maps')\n"
                           "print('ok')\n";
  const std::string cmd = "cd / && /usr/bin/python3 " + script + " " + dir + "/maps.h5";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << " (needs Debian's python3-h5py)";
}

TEST(MapStore, ABadMapIsAnErrorNamingTheChunkAndTheImage) {
  const std::string dir = fresh("bad");
  MapChunkWriter w(dir + "/parts/maps-000000.h5");
  ScoreMap m = ramp(3, 3, 0.0f);
  m.values.pop_back();
  try {
    w.add("short_one", m);
    FAIL() << "expected an error";
  } catch (const c2am::Error& e) {
    EXPECT_NE(std::string(e.what()).find("short_one"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MapReader(dir + "/missing.h5"), c2am::Error);
}

}  // namespace
