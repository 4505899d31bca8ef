// Implements: tests of the .npy reader (cams/npy.h) and of one file's
// CAM conversion (cams/convert_cams.h: cams_from_npy) against files that
// numpy and torch write at test time (/usr/bin/python3 with python3-numpy and
// python3-torch; the tests fail when they are missing): numeric arrays of
// every dtype in C and Fortran order and big-endian, format versions 2.0 and
// 3.0, the CAM dicts of the C²AM authors' code / PuzzleCAM (padded keys +
// hr_cam) and IRN (zero-based keys, high_res, a torch tensor under "cam", keys
// as a torch tensor), torch dtypes and views, torch views outside their
// storage, protocol-5 pickles, and bad files.
// Every expected array comes as NAME.raw (C order, little-endian) with a line
// "NAME FILE KEY DTYPE SHAPE" in manifest.txt.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "common/error_message.h"
#include "common/python_files.h"
#include "common/temp_dir.h"
#include "cams/convert_cams.h"
#include "cams/npy.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

namespace pk = c2am::util::pickle;
using c2am::cams::DType;
using c2am::cams::NpyArray;

constexpr const char* kMakeFiles = R"PY(
import collections, os, pickle, sys
import numpy as np, torch
out = sys.argv[1]
rng = np.random.default_rng(0)
torch.manual_seed(0)
manifest = open(os.path.join(out, 'manifest.txt'), 'w')

def expect(name, file, key, a):
    a = np.asarray(a)
    c = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<'))
    c.tofile(os.path.join(out, name + '.raw'))
    manifest.write(f"{name} {file} {key} {a.dtype.name} {','.join(map(str, a.shape)) or '-'}\n")

def save(file, obj):
    np.save(os.path.join(out, file), obj, allow_pickle=True)

# Numeric arrays: every dtype, C and Fortran order, big-endian; 0-d and empty.
base = rng.standard_normal((3, 4, 5)) * 50
for dt in ['float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool']:
    a = base > 0 if dt == 'bool' else base.astype(dt)
    save(f'c_{dt}.npy', a)
    save(f'f_{dt}.npy', np.asfortranarray(a))
    expect(f'c_{dt}', f'c_{dt}.npy', '-', a)
    expect(f'f_{dt}', f'f_{dt}.npy', '-', a)
    if a.dtype.itemsize > 1:
        save(f'be_{dt}.npy', a.astype(a.dtype.newbyteorder('>')))
        expect(f'be_{dt}', f'be_{dt}.npy', '-', a)
save('scalar.npy', np.float64(2.5)); expect('scalar', 'scalar.npy', '-', np.float64(2.5))
save('empty.npy', np.zeros((0, 3), np.float32)); expect('empty', 'empty.npy', '-', np.zeros((0, 3), np.float32))
for v in [(2, 0), (3, 0)]:
    with open(os.path.join(out, f'v{v[0]}.npy'), 'wb') as f:
        np.lib.format.write_array(f, base.astype(np.float32), version=v)
    expect(f'v{v[0]}', f'v{v[0]}.npy', '-', base.astype(np.float32))

# CAM dicts. C²AM authors' code / PuzzleCAM: keys = np.pad(keys + 1, (1, 0)), hr_cam (C, H, W).
hr = rng.uniform(0, 1, (2, 24, 28)).astype(np.float32)
cam = torch.rand(2, 6, 7)
save('padded.npy', {'keys': np.pad(np.array([3, 14]) + 1, (1, 0), mode='constant'), 'cam': cam, 'hr_cam': hr})
expect('padded.hr_cam', 'padded.npy', 'hr_cam', hr)
expect('padded.cam', 'padded.npy', 'cam', cam.numpy())
expect('padded.keys', 'padded.npy', 'keys', np.array([0, 4, 15]))
# IRN: keys = 0-based foreground classes, "cam": strided_cam.cpu() (a torch tensor), high_res.
save('irn.npy', {'keys': np.array([2, 14]), 'cam': cam, 'high_res': hr})
expect('irn.high_res', 'irn.npy', 'high_res', hr)
expect('irn.cam', 'irn.npy', 'cam', cam.numpy())
# IRN with keys as a torch tensor (torch.nonzero(label)[:, 0]) and a strided torch view.
label = torch.zeros(20); label[[2, 14]] = 1
view = torch.rand(2, 7, 6).transpose(1, 2)
save('irn_torch_keys.npy', {'keys': torch.nonzero(label)[:, 0], 'cam': view, 'high_res': hr})
expect('irn_torch_keys.keys', 'irn_torch_keys.npy', 'keys', np.array([2, 14]))
expect('irn_torch_keys.cam', 'irn_torch_keys.npy', 'cam', view.numpy())
# Torch dtypes, 0-d tensors and views with offsets.
big = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
tensors = {'f16': torch.rand(3, 2).half(), 'f64': torch.rand(4, dtype=torch.float64), 'i8': torch.tensor([-3, 7], dtype=torch.int8),
           'u8': torch.tensor([0, 200], dtype=torch.uint8), 'i32': torch.tensor([1, -2], dtype=torch.int32),
           'bool': torch.tensor([True, False]), 'scalar': torch.tensor(3.5), 'offset': big[1:, 1::2, ::2],
           'param': torch.nn.Parameter(torch.rand(2))}
save('torch_dtypes.npy', {k: v for k, v in tensors.items()} | {'bf16': torch.tensor([1.5, -2.25, 3e5]).bfloat16()})
for k, v in tensors.items():
    expect(f'torch_dtypes.{k}', 'torch_dtypes.npy', k, v.detach().numpy())
expect('torch_dtypes.bf16', 'torch_dtypes.npy', 'bf16', torch.tensor([1.5, -2.25, 3e5]).bfloat16().float().numpy())
# A torch tensor the reader does not decode (sparse), under the used key and under an unused one.
sparse = torch.rand(1, 24, 28).to_sparse()
save('sparse_high_res.npy', {'keys': np.array([4]), 'high_res': sparse})
save('sparse_cam.npy', {'keys': np.array([4]), 'cam': sparse, 'high_res': hr[:1]})
# Torch tensors with hand-made _rebuild_tensor_v2 arguments over a storage of 6 float32s: one view
# inside it, the others reaching outside it (offset, stride, int64 overflow, an empty view past its end)
# or with a negative stride, which torch never writes.
class View:
    def __init__(self, offset, size, stride):
        self.args = (torch.arange(6, dtype=torch.float32).storage(), offset, size, stride, False,
                     collections.OrderedDict())
    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)
save('views.npy', {'inside': View(1, (2, 2), (1, 3)), 'offset': View(5, (2,), (1,)), 'stride': View(0, (2, 3), (4, 1)),
                   'overflow': View(0, (3,), (2**62,)), 'empty': View(7, (0,), (1,)), 'negative': View(1, (2,), (-1,))})
expect('views.inside', 'views.npy', 'inside', torch.arange(6, dtype=torch.float32).as_strided((2, 2), (1, 3), 1).numpy())
save('outside_cam.npy', {'keys': np.array([4]), 'high_res': View(0, (1, 2, 3), (6, 3, 2))})
# numpy scalars, Python lists, a Fortran and a big-endian array inside the pickle.
fa = np.asfortranarray(rng.standard_normal((3, 4)))
save('misc.npy', {'i': np.int64(5), 'f': np.float32(0.25), 'list': [1, 2, 3], 'floats': (1, 2.5),
                  'fortran': fa, 'big_endian': hr[0].astype('>f4'), 'text': 'hello', 'arrays': [np.arange(3)]})
expect('misc.i', 'misc.npy', 'i', np.int64(5)); expect('misc.f', 'misc.npy', 'f', np.float32(0.25))
expect('misc.list', 'misc.npy', 'list', np.array([1, 2, 3])); expect('misc.floats', 'misc.npy', 'floats', np.array([1, 2.5]))
expect('misc.fortran', 'misc.npy', 'fortran', fa); expect('misc.big_endian', 'misc.npy', 'big_endian', hr[0])
# Protocol 5 (numpy arrays through numpy.core.numeric._frombuffer and BYTEARRAY8).
obj = np.empty((), dtype=object); obj[()] = {'keys': np.array([0, 7]), 'hr_cam': hr[:1]}
with open(os.path.join(out, 'protocol5.npy'), 'wb') as f:
    np.lib.format.write_array_header_1_0(f, {'descr': '|O', 'fortran_order': False, 'shape': ()})
    pickle.dump(obj, f, protocol=5)
expect('protocol5.hr_cam', 'protocol5.npy', 'hr_cam', hr[:1])
# Values for the CAM checks: slightly and far outside [0, 1], NaN, bad key conventions.
out_of_range = hr[:1].copy(); out_of_range[0, 0, :3] = [-0.5, 1.5, 1.0005]
save('outside.npy', {'keys': np.array([0, 3]), 'hr_cam': out_of_range})
nan = hr[:1].copy(); nan[0, 5, 5] = np.nan
save('nan.npy', {'keys': np.array([0, 3]), 'hr_cam': nan})
save('bad_keys.npy', {'keys': np.array([1, 2, 3]), 'hr_cam': hr})
save('no_cam.npy', {'keys': np.array([0, 3]), 'cam': cam[:1]})
save('not_dict.npy', np.array([1, 2], dtype=object))
save('no_maps.npy', {'keys': np.array([0]), 'hr_cam': np.zeros((0, 24, 28), np.float32)})
manifest.close()
print('ok')
)PY";

struct Expected {
  std::string name, file, key, dtype;
  std::vector<int64_t> shape;
};

class Npy : public ::testing::Test {
 protected:
  // The Python files are written once per version of kMakeFiles into the build
  // folder and shared by the test processes; files the tests write themselves
  // go to a folder per test.
  static void SetUpTestSuite() {
    dir_ = c2am::testing_util::python_files(
        "cams/npy_files", kMakeFiles, "numpy and torch (Debian: apt install python3-numpy python3-torch)",
        &setup_error_);
    if (dir_.empty()) return;
    std::istringstream manifest(c2am::util::read_file(dir_ + "/manifest.txt"));
    Expected e;
    std::string shape;
    while (manifest >> e.name >> e.file >> e.key >> e.dtype >> shape) {
      e.shape.clear();
      if (shape != "-") {
        std::istringstream dims(shape);
        for (std::string d; std::getline(dims, d, ',');) e.shape.push_back(std::stoll(d));
      }
      expected_.push_back(e);
    }
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::string file(const std::string& name) { return dir_ + "/" + name; }
  std::string scratch(const std::string& name) const { return tmp_.sub(name); }
  static const Expected& expected(const std::string& name) {
    for (const Expected& e : expected_) {
      if (e.name == name) return e;
    }
    throw std::runtime_error("no expected array " + name);
  }
  // The array `e` stands for: a whole file, or one key of a file's dict.
  static NpyArray load(const Expected& e) {
    const NpyArray a = c2am::cams::read_npy(file(e.file), /*allow_pickle=*/e.key != "-");
    if (e.key == "-") return a;
    const pk::ValuePtr v = pk::find(*a.objects.at(0), e.key);
    if (!v) throw std::runtime_error("no key " + e.key);
    return c2am::cams::array_from_value(*v, e.name);
  }
  static void expect_array(const std::string& name) {
    const Expected& e = expected(name);
    const NpyArray a = load(e);
    EXPECT_EQ(std::string(c2am::cams::dtype_name(a.dtype)), e.dtype) << name;
    EXPECT_EQ(a.shape, e.shape) << name;
    const std::string raw = c2am::util::read_file(file(name + ".raw"));
    EXPECT_TRUE(a.data == std::vector<std::uint8_t>(raw.begin(), raw.end()))
        << name << ": the elements differ";
  }

  static inline std::string dir_, setup_error_;
  static inline std::vector<Expected> expected_;
  c2am::testing_util::TempDir tmp_;  // this test's own files
};

std::string error_of(const std::function<void()>& fn) { return c2am::testing_util::error_message(fn); }

TEST_F(Npy, NumericDtypesInCAndFortranOrderAndBigEndian) {
  int n = 0;
  for (const Expected& e : expected_) {
    if (e.name.rfind("c_", 0) == 0 || e.name.rfind("f_", 0) == 0 || e.name.rfind("be_", 0) == 0) {
      expect_array(e.name);
      ++n;
    }
  }
  EXPECT_EQ(n, 12 + 12 + 9);
  const NpyArray h = c2am::cams::read_npy(file("f_float16.npy"));
  const NpyArray d = c2am::cams::read_npy(file("c_float64.npy"));
  const std::vector<float> hf = h.to_float("f16");
  const std::vector<double> dd = d.to_double("f64");
  for (size_t i = 0; i < dd.size(); ++i) EXPECT_NEAR(hf[i], dd[i], std::abs(dd[i]) * 1e-3 + 1e-3) << i;
  EXPECT_EQ(c2am::cams::read_npy(file("c_int16.npy")).to_int64("x").at(7),
            static_cast<int64_t>(d.to_double("x").at(7)));
}

TEST_F(Npy, ScalarsEmptyArraysAndFormatVersions2And3) {
  for (const char* name : {"scalar", "empty", "v2", "v3"}) expect_array(name);
  EXPECT_EQ(c2am::cams::read_npy(file("scalar.npy")).shape_text(), "()");
  EXPECT_EQ(c2am::cams::read_npy(file("empty.npy")).describe(), "float32 array of shape (0, 3)");
}

TEST_F(Npy, PaddedKeysDictWithHrCamAndATorchCam) {
  for (const char* name : {"padded.hr_cam", "padded.cam", "padded.keys"}) expect_array(name);
}

TEST_F(Npy, IrnDictWithHighResAndATorchCam) {
  for (const char* name : {"irn.high_res", "irn.cam"}) expect_array(name);
}

TEST_F(Npy, TorchTensorKeysAndStridedViewsAreDecoded) {
  for (const char* name : {"irn_torch_keys.keys", "irn_torch_keys.cam"}) expect_array(name);
}

TEST_F(Npy, TorchDtypesScalarsViewsAndParameters) {
  for (const char* key : {"f16", "f64", "i8", "u8", "i32", "bool", "scalar", "offset", "param", "bf16"}) {
    expect_array(std::string("torch_dtypes.") + key);
  }
}

TEST_F(Npy, TorchViewsOutsideTheirStorageAreRefusedNamingTheView) {
  expect_array("views.inside");
  const NpyArray views = c2am::cams::read_npy(file("views.npy"), true);  // reading the file is fine
  const auto error = [&](const char* key) {
    return error_of([&] { c2am::cams::array_from_value(*pk::find(*views.objects.at(0), key), key); });
  };
  const std::string storage = " lies outside its storage of 6 float32 elements";
  EXPECT_EQ(
      error("offset"),
      "offset: torch.Tensor that cannot be read: torch tensor of size [2], stride [1], offset 5" + storage);
  EXPECT_EQ(error("stride"),
            "stride: torch.Tensor that cannot be read: torch tensor of size [2, 3], stride [4, 1], offset 0" +
                storage);
  EXPECT_EQ(
      error("empty"),
      "empty: torch.Tensor that cannot be read: torch tensor of size [0], stride [1], offset 7" + storage);
  EXPECT_EQ(
      error("overflow"),
      "overflow: torch.Tensor that cannot be read: torch tensor of size [3], stride [4611686018427387904], "
      "offset 0 reaches beyond the largest int64 element index");
  EXPECT_EQ(
      error("negative"),
      "negative: torch.Tensor that cannot be read: torch tensor has a negative stride (-1) in dimension 0");
  // The conversion names the file and the key.
  const std::string path = file("outside_cam.npy");
  const std::string msg = error_of([&] { c2am::cams::cams_from_npy(path, "x", "auto", "auto", nullptr); });
  EXPECT_NE(msg.find(path + ": 'high_res'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("size [1, 2, 3], stride [6, 3, 2], offset 0" + storage), std::string::npos) << msg;
}

TEST_F(Npy, NumpyScalarsListsFortranAndBigEndianInsideThePickle) {
  for (const char* key : {"i", "f", "list", "floats", "fortran", "big_endian"})
    expect_array(std::string("misc.") + key);
  const NpyArray misc = c2am::cams::read_npy(file("misc.npy"), true);
  const std::string msg =
      error_of([&] { c2am::cams::array_from_value(*pk::find(*misc.objects[0], "text"), "x"); });
  EXPECT_EQ(msg, "x: a Python str, not an array");
}

TEST_F(Npy, Protocol5PickleWithFrombuffer) { expect_array("protocol5.hr_cam"); }

TEST_F(Npy, UndecodableTorchTensorFailsOnlyWhenItsKeyIsUsed) {
  const std::string path = file("sparse_high_res.npy");
  const NpyArray a = c2am::cams::read_npy(path, true);  // reading the file is fine
  const std::string msg =
      error_of([&] { c2am::cams::cams_from_npy(path, "s", "auto", "auto", nullptr); });
  EXPECT_NE(msg.find(path + ": 'high_res'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("_rebuild_sparse_tensor"), std::string::npos) << msg;
  // Under "cam", which the conversion does not use, it stops nothing.
  const c2am::cams::ClassCams c =
      c2am::cams::cams_from_npy(file("sparse_cam.npy"), "s", "auto", "auto", nullptr);
  EXPECT_EQ(c.keys, std::vector<int>{5});
}

TEST_F(Npy, BadFilesAreErrorsNamingTheFile) {
  const std::string irn = c2am::util::read_file(file("irn.npy"));
  const std::string numeric = c2am::util::read_file(file("c_float32.npy"));
  const std::pair<std::string, std::string> cases[] = {
      {irn.substr(0, 5), "the file is truncated"},
      {irn.substr(0, 60), "truncated inside the header"},
      {irn.substr(0, irn.size() / 2), "truncated pickle"},
      {numeric.substr(0, numeric.size() - 7),
       "truncated: a float32 array of shape (3, 4, 5) needs 240 bytes"},
      {"hello, not numpy\n", "not a .npy file"},
      {std::string("\x93NUMPY\x04\x00", 8) + numeric.substr(8), "format version 4.0"},
  };
  int i = 0;
  for (const auto& [bytes, want] : cases) {
    const std::string path = scratch(fmt::format("bad{}.npy", i++));
    std::ofstream(path, std::ios::binary) << bytes;
    const std::string msg = error_of([&] { c2am::cams::read_npy(path, true); });
    EXPECT_NE(msg.find("cannot read '" + path + "' as a .npy file: "), std::string::npos) << msg;
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  }
  // Found by fuzzing: a header of shape (2,) over one pickled object (no array) gave 2 elements and 1 object.
  const std::string forged =
      std::string(C2AM_SOURCE_DIR) + "/tests/fuzz/corpus/npy/regress-header-shape-2-one-pickled-object.npy";
  const std::string forged_msg = error_of([&] { c2am::cams::read_npy(forged, true); });
  EXPECT_NE(forged_msg.find("the header says shape (2,)"), std::string::npos) << forged_msg;
  const std::string msg = error_of([&] { c2am::cams::read_npy(file("irn.npy")); });
  EXPECT_NE(msg.find("allow_pickle"), std::string::npos) << msg;
  EXPECT_THROW(c2am::cams::read_npy(scratch("missing.npy")), c2am::IoError);
}

// cams_from_npy: one file's conversion.

TEST_F(Npy, CamsFromPaddedAndZeroBasedKeys) {
  const std::vector<float> hr = load(expected("padded.hr_cam")).to_float("hr");
  for (const char* keys : {"auto", "padded"}) {
    const c2am::cams::ClassCams c =
        c2am::cams::cams_from_npy(file("padded.npy"), "2007_000032", keys, "auto", nullptr);
    EXPECT_EQ(c.keys, (std::vector<int>{4, 15})) << keys;
    EXPECT_EQ(c.width, 28);
    EXPECT_EQ(c.height, 24);
    EXPECT_EQ(c.image, "2007_000032");
    EXPECT_EQ(c.values, hr);
  }
  for (const char* name : {"irn.npy", "irn_torch_keys.npy"}) {
    const c2am::cams::ClassCams c = c2am::cams::cams_from_npy(file(name), "x", "auto", "auto", nullptr);
    EXPECT_EQ(c.keys, (std::vector<int>{3, 15})) << name;
    EXPECT_EQ(c.values, hr) << name;
  }
  // The torch tensor under "cam" (2 x 6 x 7), chosen explicitly.
  const c2am::cams::ClassCams strided =
      c2am::cams::cams_from_npy(file("irn.npy"), "x", "zero-based", "cam", nullptr);
  EXPECT_EQ(strided.width, 7);
  EXPECT_EQ(strided.values, load(expected("irn.cam")).to_float("cam"));
  EXPECT_EQ(c2am::cams::cams_from_npy(file("no_maps.npy"), "x", "auto", "auto", nullptr).count(), 0u);
}

TEST_F(Npy, CamConversionErrorsNameTheFile) {
  const auto conversion_error = [&](const char* name, const char* keys, const char* cam_key) {
    const std::string path = file(name);
    const std::string msg =
        error_of([&] { c2am::cams::cams_from_npy(path, "x", keys, cam_key, nullptr); });
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    return msg;
  };
  EXPECT_NE(conversion_error("bad_keys.npy", "auto", "auto")
                .find("3 keys [1, 2, 3] for 2 maps fit neither convention"),
            std::string::npos);
  EXPECT_NE(conversion_error("padded.npy", "zero-based", "auto")
                .find("--keys zero-based needs one key per map (2)"),
            std::string::npos);
  EXPECT_NE(conversion_error("irn.npy", "padded", "auto").find("--keys padded needs 3 keys starting with 0"),
            std::string::npos);
  EXPECT_NE(conversion_error("no_cam.npy", "auto", "auto")
                .find("no 'high_res' or 'hr_cam' entry (the dict holds 'keys', 'cam')"),
            std::string::npos);
  EXPECT_NE(conversion_error("irn.npy", "auto", "hr_cam").find("no 'hr_cam' entry"), std::string::npos);
  EXPECT_NE(conversion_error("nan.npy", "auto", "auto").find("'hr_cam' holds 1 non-finite values"),
            std::string::npos);
  EXPECT_NE(conversion_error("not_dict.npy", "auto", "auto").find("not a dict saved with np.save"),
            std::string::npos);
  EXPECT_NE(conversion_error("c_float32.npy", "auto", "auto").find("not a dict saved with np.save"),
            std::string::npos);
}

TEST_F(Npy, ValuesOutsideTheUnitRangeAreClippedAndCounted) {
  std::int64_t clipped = -1;
  const c2am::cams::ClassCams c =
      c2am::cams::cams_from_npy(file("outside.npy"), "x", "auto", "auto", &clipped);
  EXPECT_EQ(clipped, 2);  // -0.5 and 1.5; 1.0005 is within 1e-3
  EXPECT_EQ(c.values[0], 0.0f);
  EXPECT_EQ(c.values[1], 1.0f);
  EXPECT_EQ(c.values[2], 1.0f);
}

}  // namespace
