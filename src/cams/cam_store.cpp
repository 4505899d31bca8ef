// Implements: the per-image class-CAM file (cam_store.h): the HDF5 file is
// built in memory (HDF5's core driver) under the HDF5 lock and written with
// util::write_file_atomic outside it; reading validates every part. float16
// is converted here (util/half.h), not by HDF5, whose 1.10 float -> float16
// conversion mis-rounds.
#include "cams/cam_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "data/shard_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/half.h"

namespace c2am::cams {

namespace h5 = data::h5;

namespace {

using h5::Hid;

constexpr float kValueSlack = 1e-3f;  // values this far outside [0, 1] are clipped, farther ones are errors

void check_keys(const std::vector<int>& keys, const std::string& path) {
  std::set<int> seen;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (keys[k] < 1 || keys[k] > kMaxCamKey) {
      throw Error(fmt::format("{}: key {} at index {} is outside 1..{} (class indices, background excluded)",
                              path, keys[k], k, kMaxCamKey));
    }
    if (!seen.insert(keys[k]).second) throw Error(fmt::format("{}: key {} appears twice", path, keys[k]));
  }
}

// The (k, y, x) position of flat index i, for messages.
std::string position(size_t i, int width, int height) {
  const size_t plane = static_cast<size_t>(width) * height;
  return fmt::format("(k={}, y={}, x={})", i / plane, i % plane / width, i % width);
}

void write_attrs(hid_t file, const std::string& path, const ClassCams& c) {
  h5::write_attr(file, path, "format", std::string(kCamsFormat));
  h5::write_attr(file, path, "version", std::int64_t{kCamsFormatVersion});
  h5::write_attr(file, path, "image", c.image);
}

// A dataset of `rank` dimensions, contiguous (HDF5 needs that for zero-size ones).
void write_nd(hid_t file, const std::string& path, const char* name, hid_t file_type, hid_t mem_type,
              const void* data, int rank, const hsize_t* dims) {
  Hid space(C2AM_H5_CHECK(H5Screate_simple(rank, dims, nullptr), path, "create dataspace"), H5Sclose);
  Hid ds(C2AM_H5_CHECK(H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                       fmt::format("create dataset '{}'", name)),
         H5Dclose);
  hsize_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  if (n > 0) {
    C2AM_H5_CHECK(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path,
                  fmt::format("write dataset '{}'", name));
  }
}

// The bytes of the HDF5 file holding `c`.
std::string file_image(const std::string& path, const ClassCams& c, bool half) {
  std::vector<std::uint16_t> halves;
  if (half) {
    halves.resize(c.values.size());
    std::transform(c.values.begin(), c.values.end(), halves.begin(), util::float_to_half);
  }
  h5::Lock lock;
  const size_t increment =
      std::max<size_t>(size_t{1} << 16, c.values.size() * (half ? 2 : 4) + (size_t{1} << 14));
  Hid file = h5::create_memory_file(path, increment);
  write_attrs(file, path, c);
  const hsize_t key_dims[1] = {c.keys.size()};
  std::vector<std::int32_t> keys(c.keys.begin(), c.keys.end());
  write_nd(file, path, "keys", H5T_STD_I32LE, H5T_NATIVE_INT32, keys.data(), 1, key_dims);
  const hsize_t cam_dims[3] = {c.keys.size(), static_cast<hsize_t>(c.height), static_cast<hsize_t>(c.width)};
  Hid f16 = h5::float16_type(path);
  if (half) {
    write_nd(file, path, "cams", f16, f16, halves.data(), 3, cam_dims);
  } else {
    write_nd(file, path, "cams", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, c.values.data(), 3, cam_dims);
  }
  std::string bytes = h5::memory_file_image(file, path);
  file.close_checked(path, "close file");
  return bytes;
}

// Opens a dataset and checks its type class and rank; returns its dimensions.
std::vector<hsize_t> dataset_dims(hid_t ds, const std::string& path, const char* name, H5T_class_t cls,
                                  const char* cls_name, int rank) {
  Hid type(C2AM_H5_CHECK(H5Dget_type(ds), path, fmt::format("get the type of {}", name)), H5Tclose);
  if (H5Tget_class(type) != cls)
    throw Error(fmt::format("{}: dataset '{}' is not of {} type", path, name, cls_name));
  Hid space(C2AM_H5_CHECK(H5Dget_space(ds), path, fmt::format("get the dataspace of {}", name)), H5Sclose);
  const int have =
      C2AM_H5_CHECK(H5Sget_simple_extent_ndims(space), path, fmt::format("get the rank of {}", name));
  if (have != rank)
    throw Error(fmt::format("{}: dataset '{}' has rank {}, expected {}", path, name, have, rank));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  C2AM_H5_CHECK(H5Sget_simple_extent_dims(space, dims.data(), nullptr), path,
                fmt::format("get the dimensions of {}", name));
  return dims;
}

bool has_attr(hid_t loc, const std::string& path, const char* name) {
  return C2AM_H5_CHECK(H5Aexists(loc, name), path, fmt::format("look up attribute '{}'", name)) > 0;
}

}  // namespace

std::string class_cams_path(const std::string& dir, const std::string& stem) {
  return (std::filesystem::path(dir) / (stem + ".h5")).string();
}

void write_class_cams(const std::string& path, const ClassCams& c, bool half) {
  if (c.width <= 0 || c.height <= 0) {
    throw Error(
        fmt::format("{}: CAMs of size {}x{} (width x height must be positive)", path, c.width, c.height));
  }
  const size_t want = c.keys.size() * static_cast<size_t>(c.width) * c.height;
  if (c.values.size() != want) {
    throw Error(fmt::format("{}: {} values for {} maps of {}x{} (expected {})", path, c.values.size(),
                            c.keys.size(), c.width, c.height, want));
  }
  check_keys(c.keys, path);
  for (size_t i = 0; i < c.values.size(); ++i) {
    const float v = c.values[i];
    if (!(v >= 0.0f && v <= 1.0f)) {
      throw Error(
          fmt::format("{}: value {} at {} is not in [0, 1]", path, v, position(i, c.width, c.height)));
    }
  }
  util::write_file_atomic(path, file_image(path, c, half));
}

namespace {

ClassCams read_file(const std::string& path, bool with_values) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw IoError(fmt::format("cannot open CAM file '{}': {}", path,
                              std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
  }
  h5::Lock lock;
  if (C2AM_H5_CHECK(H5Fis_hdf5(path.c_str()), path, "check the file signature") <= 0) {
    throw Error(fmt::format("{}: not a c2am CAM file (not an HDF5 file)", path));
  }
  Hid file(C2AM_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path, "open file"), H5Fclose);
  if (!has_attr(file, path, "format"))
    throw Error(fmt::format("{}: not a c2am CAM file (no attribute 'format')", path));
  const std::string format = h5::read_attr_string(file, path, "format");
  if (format != kCamsFormat) {
    throw Error(
        fmt::format("{}: not a c2am CAM file (format '{}', expected '{}')", path, format, kCamsFormat));
  }
  if (!has_attr(file, path, "version"))
    throw Error(fmt::format("{}: CAM file without attribute 'version'", path));
  const std::int64_t version = h5::read_attr_int(file, path, "version");
  if (version != kCamsFormatVersion) {
    throw Error(fmt::format("{}: CAM file version {}, this c2am reads version {}{}", path, version,
                            kCamsFormatVersion,
                            version > kCamsFormatVersion ? " (written by a newer c2am?)" : ""));
  }
  ClassCams c;
  c.image = has_attr(file, path, "image") ? h5::read_attr_string(file, path, "image")
                                          : std::filesystem::path(path).stem().string();

  Hid keys_ds = h5::open_dataset(file, path, "/keys");
  const std::vector<hsize_t> kd = dataset_dims(keys_ds, path, "/keys", H5T_INTEGER, "integer", 1);
  std::vector<std::int32_t> keys(kd[0]);
  if (!keys.empty()) {
    C2AM_H5_CHECK(H5Dread(keys_ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, keys.data()), path,
                  "read /keys");
  }
  c.keys.assign(keys.begin(), keys.end());
  check_keys(c.keys, path);

  Hid cams_ds = h5::open_dataset(file, path, "/cams");
  const std::vector<hsize_t> cd = dataset_dims(cams_ds, path, "/cams", H5T_FLOAT, "floating-point", 3);
  if (cd[0] != kd[0] || cd[1] == 0 || cd[2] == 0 || cd[1] > (1u << 16) || cd[2] > (1u << 16)) {
    throw Error(fmt::format(
        "{}: dataset '/cams' has shape ({}, {}, {}), expected (K={}, H, W) with 0 < H, W <= 65536", path,
        cd[0], cd[1], cd[2], kd[0]));
  }
  c.height = static_cast<int>(cd[1]);
  c.width = static_cast<int>(cd[2]);
  if (!with_values) return c;
  c.values.resize(cd[0] * cd[1] * cd[2]);
  h5::read_floats(cams_ds, path + " (/cams)", c.values);
  for (size_t i = 0; i < c.values.size(); ++i) {
    float& v = c.values[i];
    if (!std::isfinite(v) || v < -kValueSlack || v > 1.0f + kValueSlack) {
      throw Error(
          fmt::format("{}: /cams value {} at {} is not in [0, 1]", path, v, position(i, c.width, c.height)));
    }
    v = std::clamp(v, 0.0f, 1.0f);
  }
  return c;
}

}  // namespace

ClassCams read_class_cams(const std::string& path) { return read_file(path, /*with_values=*/true); }

ClassCams read_class_cams_header(const std::string& path) { return read_file(path, /*with_values=*/false); }

}  // namespace c2am::cams
