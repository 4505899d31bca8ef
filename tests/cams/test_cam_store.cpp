// Implements: tests of the per-image class-CAM file (data/cam_store.h): round
// trips in float32 (exact) and float16 (within half precision), K = 0, what
// h5py (/usr/bin/python3 with python3-h5py) reads from our files, files h5py
// writes in the same layout, and the errors for bad input and bad files.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>

#include "common/error_message.h"
#include "common/temp_dir.h"
#include "cams/cam_store.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/half.h"

namespace {

namespace fs = std::filesystem;
using c2am::cams::ClassCams;

class CamStore : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return tmp_.sub(name); }

  // Runs a Python script with h5py and numpy; returns its output, failing the test if it fails.
  std::string python(const std::string& script) const {
    const std::string py = path("script.py"), out = path("script.out");
    std::ofstream(py) << "import sys, h5py, numpy as np\n" << script;
    const int rc = std::system(fmt::format("/usr/bin/python3 {} > {} 2>&1", py, out).c_str());
    const std::string text = c2am::util::read_file(out);
    EXPECT_EQ(rc, 0) << "/usr/bin/python3 with h5py and numpy (Debian: python3-h5py) failed:\n" << text;
    return text;
  }

  c2am::testing_util::TempDir tmp_;  // this test's folder
  const std::string dir_ = tmp_.path();
};

// K maps of w x h with value (k*h*w + y*w + x) / (K*h*w): every value distinct, in [0, 1).
ClassCams ramp(std::vector<int> keys, int w, int h) {
  ClassCams c;
  c.keys = std::move(keys);
  c.width = w;
  c.height = h;
  c.image = "JPEGImages/2007_000032.jpg";
  const size_t n = c.keys.size() * static_cast<size_t>(w) * h;
  for (size_t i = 0; i < n; ++i) c.values.push_back(static_cast<float>(i) / static_cast<float>(n));
  return c;
}

std::string error_of(const std::function<void()>& fn) { return c2am::testing_util::error_message(fn); }

TEST_F(CamStore, Float32RoundTripIsExact) {
  ClassCams c = ramp({3, 15}, 37, 23);
  c.values.back() = 1.0f;
  const std::string p = c2am::cams::class_cams_path(dir_, "2007_000032");
  EXPECT_EQ(p, path("2007_000032.h5"));
  c2am::cams::write_class_cams(p, c, /*half=*/false);
  const ClassCams r = c2am::cams::read_class_cams(p);
  EXPECT_EQ(r.keys, c.keys);
  EXPECT_EQ(r.width, 37);
  EXPECT_EQ(r.height, 23);
  EXPECT_EQ(r.image, c.image);
  EXPECT_EQ(r.values, c.values);
  EXPECT_EQ(r.map(1)[0], c.values[37 * 23]);
  const ClassCams header = c2am::cams::read_class_cams_header(p);
  EXPECT_EQ(header.keys, c.keys);
  EXPECT_EQ(header.width, 37);
  EXPECT_EQ(header.image, c.image);
  EXPECT_TRUE(header.values.empty());
  // Written atomically: nothing but the file itself is left in the folder.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(CamStore, Float16RoundTripIsWithinHalfPrecision) {
  ClassCams c = ramp({1, 7, 20}, 50, 31);
  c.values[0] = 0.0f;
  c.values[1] = 1.0f;
  c.values[2] = 0.5f;
  c.values[3] = 1e-6f;  // a float16 subnormal
  const std::string p = path("a.h5");
  c2am::cams::write_class_cams(p, c);
  const ClassCams r = c2am::cams::read_class_cams(p);
  ASSERT_EQ(r.values.size(), c.values.size());
  double worst = 0;
  for (size_t i = 0; i < c.values.size(); ++i) {
    // float16 keeps 11 significant bits: relative error <= 2^-11 (absolute 2^-25 for subnormals).
    const double tol =
        std::max(std::ldexp(static_cast<double>(std::fabs(c.values[i])), -11), std::ldexp(1.0, -25));
    worst = std::max(worst, std::fabs(r.values[i] - c.values[i]) / tol);
  }
  EXPECT_LE(worst, 1.0);
  EXPECT_EQ(r.values[0], 0.0f);
  EXPECT_EQ(r.values[1], 1.0f);
  EXPECT_EQ(r.values[2], 0.5f);
  EXPECT_GT(r.values[3], 0.0f);
  // 4649/4650 rounds up to 1.0; HDF5 1.10's own conversion gives 0.5 after the subnormal above.
  EXPECT_EQ(r.values.back(), 1.0f);
  EXPECT_LT(fs::file_size(p),
            50u * 31 * 3 * 2 + 8192);  // two bytes a value (+ HDF5 headers, a 4 KiB string heap)
}

TEST_F(CamStore, ZeroMapsKeepTheImageSize) {
  ClassCams c;
  c.width = 40;
  c.height = 30;
  c.image = "2007_000033";
  const std::string p = path("empty.h5");
  c2am::cams::write_class_cams(p, c);
  const ClassCams r = c2am::cams::read_class_cams(p);
  EXPECT_EQ(r.count(), 0u);
  EXPECT_EQ(r.width, 40);
  EXPECT_EQ(r.height, 30);
  EXPECT_TRUE(r.values.empty());
  const std::string out = python(fmt::format(
      "f = h5py.File('{}', 'r')\nprint(f['cams'].shape, f['cams'].dtype, f['keys'].shape, f['keys'].dtype)\n",
      p));
  EXPECT_NE(out.find("(0, 30, 40) float16 (0,) int32"), std::string::npos) << out;
}

TEST_F(CamStore, H5pyReadsTheDocumentedLayout) {
  for (const bool half : {true, false}) {
    const ClassCams c = ramp({3, 15}, 37, 23);
    const std::string p = path(half ? "half.h5" : "single.h5");
    c2am::cams::write_class_cams(p, c, half);
    // The snippet of docs/cams.md, plus a comparison with the ramp's values.
    const std::string out = python(fmt::format(R"(
f = h5py.File('{}', 'r')
keys, cams = f['keys'][:], f['cams'][:]
print('format', f.attrs['format'], 'version', int(f.attrs['version']), 'image', f.attrs['image'])
print('keys', keys.dtype, keys.shape, keys.tolist())
print('cams', cams.dtype, cams.shape)
want = (np.arange(cams.size, dtype=np.float64) / cams.size).reshape(cams.shape)
print('maxdiff %.3g' % np.abs(cams.astype(np.float64) - want.astype(np.float32)).max())
)",
                                               p));
    EXPECT_NE(out.find("format c2am-cams version 1 image JPEGImages/2007_000032.jpg"), std::string::npos)
        << out;
    EXPECT_NE(out.find("keys int32 (2,) [3, 15]"), std::string::npos) << out;
    EXPECT_NE(out.find(fmt::format("cams {} (2, 23, 37)", half ? "float16" : "float32")), std::string::npos)
        << out;
    const size_t at = out.find("maxdiff ");
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_LE(std::stod(out.substr(at + 8)), half ? 2.5e-4 : 0.0) << out;
  }
}

TEST_F(CamStore, ReadsWhatH5pyWritesInTheSameLayout) {
  const std::string p = path("h5py.h5");
  python(fmt::format(R"(
f = h5py.File('{}', 'w')
f.attrs['format'] = 'c2am-cams'
f.attrs['version'] = 1
f['keys'] = np.array([12], dtype=np.int64)
f['cams'] = np.linspace(0, 1, 6, dtype=np.float64).reshape(1, 2, 3)
)",
                     p));
  const ClassCams r = c2am::cams::read_class_cams(p);
  EXPECT_EQ(r.keys, std::vector<int>{12});
  EXPECT_EQ(r.image, "h5py");  // no image attribute: the stem
  const std::vector<float> want = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
  EXPECT_EQ(r.values, want);
  // h5py's float16 is our float16 type.
  python(
      fmt::format("f = h5py.File('{}', 'r+')\nf['cams16'] = f['cams'][:].astype(np.float16)\n"
                  "del f['cams']\nf['cams'] = f['cams16']\ndel f['cams16']\n",
                  p));
  const ClassCams r16 = c2am::cams::read_class_cams(p);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r16.values[i], c2am::util::half_to_float(c2am::util::float_to_half(want[i]))) << i;
  }
}

TEST_F(CamStore, WriterRejectsInconsistentCams) {
  const std::string p = path("bad.h5");
  const auto write_error = [&](const ClassCams& c) {
    return error_of([&] { c2am::cams::write_class_cams(p, c); });
  };
  ClassCams c = ramp({3}, 4, 3);
  c.values.pop_back();
  EXPECT_NE(write_error(c).find("11 values for 1 maps of 4x3"), std::string::npos);
  for (const int key : {0, 256}) {
    c = ramp({key}, 4, 3);
    EXPECT_NE(write_error(c).find(fmt::format("key {} at index 0 is outside 1..255", key)),
              std::string::npos);
  }
  c = ramp({4, 4}, 4, 3);
  EXPECT_NE(write_error(c).find("key 4 appears twice"), std::string::npos);
  c = ramp({4}, 4, 3);
  c.values[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(write_error(c).find("at (k=0, y=1, x=1) is not in [0, 1]"), std::string::npos) << write_error(c);
  c.values[5] = 1.5f;
  EXPECT_NE(write_error(c).find("value 1.5"), std::string::npos);
  c = ramp({4}, 0, 3);
  EXPECT_NE(write_error(c).find("must be positive"), std::string::npos);
  EXPECT_NE(write_error(c).find(p), std::string::npos);
  EXPECT_FALSE(fs::exists(p));
}

TEST_F(CamStore, MissingCorruptAndForeignFilesAreErrorsNamingTheFile) {
  EXPECT_THROW(c2am::cams::read_class_cams(path("missing.h5")), c2am::IoError);
  const std::string text = path("text.h5");
  std::ofstream(text) << "not hdf5\n";
  EXPECT_NE(error_of([&] { c2am::cams::read_class_cams(text); }).find(text + ": not a c2am CAM file"),
            std::string::npos);

  const std::string good = path("good.h5");
  c2am::cams::write_class_cams(good, ramp({2, 9}, 16, 8));
  const std::string bytes = c2am::util::read_file(good);
  const std::string truncated = path("truncated.h5");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_NE(error_of([&] { c2am::cams::read_class_cams(truncated); }).find(truncated), std::string::npos);
  EXPECT_NE(error_of([&] { c2am::cams::read_class_cams_header(truncated); }).find(truncated),
            std::string::npos);

  // Files h5py writes with one part wrong: the error names the file and the part.
  python(fmt::format(R"(
d = '{}'
def make(name, fmt='c2am-cams', version=1, keys=[2, 9], cams=np.zeros((2, 4, 5), np.float32), drop=None):
    with h5py.File(f'{{d}}/{{name}}.h5', 'w') as f:
        f.attrs['format'], f.attrs['version'] = fmt, version
        if drop != 'keys': f['keys'] = np.array(keys, dtype=np.int32)
        if drop != 'cams': f['cams'] = cams
make('no_cams', drop='cams')
make('no_keys', drop='keys')
make('other_format', fmt='c2am-shards')
make('version2', version=2)
make('key0', keys=[0, 9])
make('dup', keys=[9, 9])
make('mismatch', keys=[2, 9, 11])
make('int_cams', cams=np.zeros((2, 4, 5), np.int32))
make('rank2', keys=[2], cams=np.zeros((4, 5), np.float32))
make('nan', cams=np.full((2, 4, 5), np.nan, np.float32))
make('above', cams=np.full((2, 4, 5), 1.01, np.float32))
)",
                     dir_));
  const std::pair<const char*, const char*> cases[] = {
      {"no_cams", "dataset '/cams' is missing"},
      {"no_keys", "dataset '/keys' is missing"},
      {"other_format", "not a c2am CAM file (format 'c2am-shards'"},
      {"version2", "CAM file version 2, this c2am reads version 1 (written by a newer c2am?)"},
      {"key0", "key 0 at index 0 is outside 1..255"},
      {"dup", "key 9 appears twice"},
      {"mismatch", "dataset '/cams' has shape (2, 4, 5), expected (K=3, H, W)"},
      {"int_cams", "dataset '/cams' is not of floating-point type"},
      {"rank2", "dataset '/cams' has rank 2, expected 3"},
      {"nan", "/cams value nan at (k=0, y=0, x=0) is not in [0, 1]"},
      {"above", "/cams value 1.01 at (k=0, y=0, x=0)"},
  };
  for (const auto& [name, want] : cases) {
    const std::string p = path(std::string(name) + ".h5");
    const std::string msg = error_of([&] { c2am::cams::read_class_cams(p); });
    EXPECT_NE(msg.find(p + ": "), std::string::npos) << name << ": " << msg;
    EXPECT_NE(msg.find(want), std::string::npos) << name << ": " << msg;
  }
}

TEST_F(CamStore, RewritingReplacesTheFile) {
  const std::string p = path("x.h5");
  c2am::cams::write_class_cams(p, ramp({2, 9}, 16, 8));
  c2am::cams::write_class_cams(p, ramp({5}, 3, 2), /*half=*/false);
  const ClassCams r = c2am::cams::read_class_cams(p);
  EXPECT_EQ(r.keys, std::vector<int>{5});
  EXPECT_EQ(r.width, 3);
}

}  // namespace
