#include "cams/map_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "data/shard_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/half.h"

namespace c2am::cams {

namespace h5 = data::h5;

namespace {

using h5::Hid;

std::string map_path(const std::string& stem) { return "/maps/" + stem; }

Hid maps_group(hid_t file, const std::string& name) {
  return Hid(
      C2AM_H5_CHECK(H5Gcreate2(file, "maps", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), name, "create /maps"),
      H5Gclose);
}

}  // namespace

MapChunkWriter::MapChunkWriter(std::string path) : path_(std::move(path)) {}

void MapChunkWriter::add(const std::string& stem, const ScoreMap& map) {
  if (map.width <= 0 || map.height <= 0 ||
      map.values.size() != static_cast<size_t>(map.width) * static_cast<size_t>(map.height)) {
    throw Error(fmt::format("{}: map '{}' of {}x{} with {} values", path_, stem, map.width, map.height,
                            map.values.size()));
  }
  maps_.emplace_back(stem, map);
}

void MapChunkWriter::finish() {
  std::string bytes;
  {
    h5::Lock lock;
    Hid file = h5::create_memory_file(path_);
    Hid group = maps_group(file, path_);
    Hid half = h5::float16_type(path_);
    for (const auto& [stem, map] : maps_) {
      const hsize_t dims[2] = {static_cast<hsize_t>(map.height), static_cast<hsize_t>(map.width)};
      Hid space(C2AM_H5_CHECK(H5Screate_simple(2, dims, nullptr), path_, "create dataspace"), H5Sclose);
      Hid dcpl(C2AM_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), path_, "create property list"), H5Pclose);
      C2AM_H5_CHECK(H5Pset_chunk(dcpl, 2, dims), path_, "set chunking");
      C2AM_H5_CHECK(H5Pset_shuffle(dcpl), path_, "set shuffle");
      C2AM_H5_CHECK(H5Pset_deflate(dcpl, 1), path_, "set deflate");
      Hid ds(C2AM_H5_CHECK(H5Dcreate2(group, stem.c_str(), half, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                           path_, "create map " + stem),
             H5Dclose);
      // Converted here: HDF5 1.10's float -> float16 conversion mis-rounds (util/half.h).
      std::vector<std::uint16_t> halves(map.values.size());
      std::transform(map.values.begin(), map.values.end(), halves.begin(), util::float_to_half);
      C2AM_H5_CHECK(H5Dwrite(ds, half, H5S_ALL, H5S_ALL, H5P_DEFAULT, halves.data()), path_,
                    "write map " + stem);
    }
    bytes = h5::memory_file_image(file, path_);
  }
  util::write_file_atomic(path_, bytes);
  maps_.clear();
}

void write_map_index(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& links) {
  const std::string path = (std::filesystem::path(dir) / "maps.h5").string();
  std::string bytes;
  {
    h5::Lock lock;
    Hid file = h5::create_memory_file(path);
    Hid group = maps_group(file, path);
    for (const auto& [stem, chunk] : links) {
      C2AM_H5_CHECK(H5Lcreate_external(chunk.c_str(), map_path(stem).c_str(), group, stem.c_str(),
                                       H5P_DEFAULT, H5P_DEFAULT),
                    path, "link map " + stem);
    }
    h5::write_attr(file, path, "format", std::string("c2am-maps"));
    h5::write_attr(file, path, "version", std::int64_t{1});
    bytes = h5::memory_file_image(file, path);
  }
  util::write_file_atomic(path, bytes);
}

MapReader::MapReader(const std::string& path) : path_(path), file_(-1) {
  h5::Lock lock;
  file_ = C2AM_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path, "open map file");
}

MapReader::~MapReader() {
  h5::Lock lock;
  if (file_ >= 0) H5Fclose(file_);
}

bool MapReader::contains(const std::string& stem) const {
  h5::Lock lock;
  if (H5Lexists(file_, "maps", H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file_, map_path(stem).c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> MapReader::stems() const {
  h5::Lock lock;
  std::vector<std::string> out;
  Hid group(C2AM_H5_CHECK(H5Gopen2(file_, "maps", H5P_DEFAULT), path_, "open /maps"), H5Gclose);
  H5G_info_t info;
  C2AM_H5_CHECK(H5Gget_info(group, &info), path_, "list /maps");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n =
        C2AM_H5_CHECK(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                      path_, "name a map");
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(n));
    out.push_back(std::move(name));
  }
  return out;
}

ScoreMap MapReader::read(const std::string& stem) const {
  h5::Lock lock;
  const std::string where = fmt::format("{} (map '{}')", path_, stem);
  if (H5Lexists(file_, "maps", H5P_DEFAULT) <= 0 ||
      H5Lexists(file_, map_path(stem).c_str(), H5P_DEFAULT) <= 0) {
    throw Error(fmt::format("{}: no map for image '{}'", path_, stem));
  }
  Hid ds = h5::open_dataset(file_, where, map_path(stem));
  const h5::Shape shape = h5::dataset_shape(ds, where, map_path(stem));
  if (shape.rank != 2 || shape.rows == 0 || shape.columns == 0) {
    throw Error(fmt::format("{}: expected a 2-D height x width map", where));
  }
  ScoreMap m;
  m.height = static_cast<int>(shape.rows);
  m.width = static_cast<int>(shape.columns);
  m.values.resize(static_cast<size_t>(shape.rows * shape.columns));
  h5::read_floats(ds, where, m.values);
  return m;
}

}  // namespace c2am::cams
