// Implements: the HDF5 side of the packed format (shards.h); the manifest and
// verification live in manifest.cpp.
#include "data/shards.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "util/error.h"

namespace c2am::data {

namespace {

// HDF5's error stack as one line (automatic printing is switched off).
herr_t collect_error(unsigned n, const H5E_error2_t* e, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (n > 0) *s += "; ";
  *s += e->desc != nullptr ? e->desc : "?";
  if (e->func_name != nullptr) *s += fmt::format(" (in {})", e->func_name);
  return 0;
}

std::string h5_error_stack() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &s);
  H5Eclear2(H5E_DEFAULT);
  return s.empty() ? "no HDF5 error detail" : s;
}

void quiet_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// The one check for HDF5 calls: a negative result throws naming the file and operation.
#define C2AM_H5_CHECK(expr, file, what)                                                                    \
  [&] {                                                                                                    \
    const auto c2am_h5_result = (expr);                                                                    \
    if (c2am_h5_result < 0) {                                                                              \
      throw ::c2am::Error(fmt::format("{}: HDF5 {} failed [shards.cpp:{}]: {}", file, what, __LINE__,      \
                                      h5_error_stack()));                                                  \
    }                                                                                                      \
    return c2am_h5_result;                                                                                 \
  }()

// Owns an HDF5 identifier and closes it with the matching function.
class Hid {
 public:
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  operator hid_t() const { return id_; }  // NOLINT: used as an hid_t in HDF5 calls

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

constexpr hsize_t kChunkBytes = 1 << 20;

template <typename T>
void write_array(hid_t loc, const std::string& file, const char* name, hid_t type, const std::vector<T>& values,
                 hsize_t columns = 1, hsize_t chunk_rows = 0) {
  const hsize_t rows = columns == 0 ? 0 : values.size() / columns;
  const hsize_t dims[2] = {rows, columns};
  const int rank = columns == 1 ? 1 : 2;
  Hid space(C2AM_H5_CHECK(H5Screate_simple(rank, dims, nullptr), file, "create dataspace"), H5Sclose);
  Hid dcpl(C2AM_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), file, "create property list"), H5Pclose);
  if (chunk_rows > 0 && rows > 0) {
    const hsize_t chunk[2] = {std::min(rows, chunk_rows), columns};
    C2AM_H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), file, "set chunking");
  }
  Hid ds(C2AM_H5_CHECK(H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), file,
                       std::string("create dataset ") + name),
         H5Dclose);
  if (rows > 0) {
    C2AM_H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), file,
                  std::string("write dataset ") + name);
  }
}

void write_attr(hid_t loc, const std::string& file, const char* name, const std::string& value) {
  Hid type(C2AM_H5_CHECK(H5Tcopy(H5T_C_S1), file, "copy string type"), H5Tclose);
  C2AM_H5_CHECK(H5Tset_size(type, std::max<size_t>(value.size(), 1)), file, "set string size");
  C2AM_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), file, "set charset");
  Hid space(C2AM_H5_CHECK(H5Screate(H5S_SCALAR), file, "create scalar space"), H5Sclose);
  Hid attr(C2AM_H5_CHECK(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), file,
                         std::string("create attribute ") + name),
           H5Aclose);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  C2AM_H5_CHECK(H5Awrite(attr, type, padded.data()), file, std::string("write attribute ") + name);
}

void write_attr(hid_t loc, const std::string& file, const char* name, std::int64_t value) {
  Hid space(C2AM_H5_CHECK(H5Screate(H5S_SCALAR), file, "create scalar space"), H5Sclose);
  Hid attr(C2AM_H5_CHECK(H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), file,
                         std::string("create attribute ") + name),
           H5Aclose);
  C2AM_H5_CHECK(H5Awrite(attr, H5T_NATIVE_INT64, &value), file, std::string("write attribute ") + name);
}

std::string read_attr_string(hid_t loc, const std::string& file, const char* name) {
  if (H5Aexists(loc, name) <= 0) throw Error(fmt::format("{}: not a c2am shard (no attribute '{}')", file, name));
  Hid attr(C2AM_H5_CHECK(H5Aopen(loc, name, H5P_DEFAULT), file, std::string("open attribute ") + name), H5Aclose);
  Hid type(C2AM_H5_CHECK(H5Aget_type(attr), file, "attribute type"), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0) {
    throw Error(fmt::format("{}: attribute '{}' is not a fixed-length string", file, name));
  }
  std::string out(H5Tget_size(type), '\0');
  C2AM_H5_CHECK(H5Aread(attr, type, out.data()), file, std::string("read attribute ") + name);
  out.erase(std::find(out.begin(), out.end(), '\0'), out.end());
  return out;
}

std::int64_t read_attr_int(hid_t loc, const std::string& file, const char* name) {
  if (H5Aexists(loc, name) <= 0) throw Error(fmt::format("{}: not a c2am shard (no attribute '{}')", file, name));
  Hid attr(C2AM_H5_CHECK(H5Aopen(loc, name, H5P_DEFAULT), file, std::string("open attribute ") + name), H5Aclose);
  std::int64_t v = 0;
  C2AM_H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, &v), file, std::string("read attribute ") + name);
  return v;
}

// Reads a whole dataset of `columns` columns; checks its row count when `rows` >= 0.
template <typename T>
std::vector<T> read_array(hid_t file_id, const std::string& file, const char* path, hid_t mem_type,
                          hsize_t columns = 1, std::int64_t rows = -1) {
  if (H5Lexists(file_id, path, H5P_DEFAULT) <= 0) throw Error(fmt::format("{}: dataset '{}' is missing", file, path));
  Hid ds(C2AM_H5_CHECK(H5Dopen2(file_id, path, H5P_DEFAULT), file, std::string("open ") + path), H5Dclose);
  Hid space(C2AM_H5_CHECK(H5Dget_space(ds), file, "dataspace"), H5Sclose);
  hsize_t dims[2] = {0, 1};
  const int rank = C2AM_H5_CHECK(H5Sget_simple_extent_dims(space, dims, nullptr), file, "dims");
  if ((columns == 1 && rank != 1) || (columns > 1 && (rank != 2 || dims[1] != columns)) ||
      (rows >= 0 && dims[0] != static_cast<hsize_t>(rows))) {
    throw Error(fmt::format("{}: dataset '{}' has an unexpected shape", file, path));
  }
  std::vector<T> out(dims[0] * columns);
  if (!out.empty()) {
    C2AM_H5_CHECK(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), file,
                  std::string("read ") + path);
  }
  return out;
}

void check_offsets(const std::vector<std::uint64_t>& off, std::uint64_t total, const std::string& file,
                   const char* what) {
  for (size_t i = 1; i < off.size(); ++i) {
    if (off[i] < off[i - 1]) throw Error(fmt::format("{}: {} offsets decrease at index {}", file, what, i - 1));
  }
  if (off.empty() || off.front() != 0 || off.back() != total) {
    throw Error(fmt::format("{}: {} offsets do not span the data ({} elements)", file, what, total));
  }
}

hsize_t dataset_length(hid_t file_id, const std::string& file, const char* path) {
  Hid ds(C2AM_H5_CHECK(H5Dopen2(file_id, path, H5P_DEFAULT), file, std::string("open ") + path), H5Dclose);
  Hid space(C2AM_H5_CHECK(H5Dget_space(ds), file, "dataspace"), H5Sclose);
  hsize_t dims[1] = {0};
  C2AM_H5_CHECK(H5Sget_simple_extent_dims(space, dims, nullptr), file, "dims");
  return dims[0];
}

std::mutex& h5_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

std::uint64_t checksum64(const std::uint8_t* data, std::size_t size) { return XXH64(data, size, 0); }

// ---------------------------------------------------------------------------- writer

struct ShardWriter::State {
  std::string path, tmp;
  ShardInfo info;
  bool finished = false;
  std::vector<std::uint8_t> bytes, mask_bytes;
  std::vector<std::uint64_t> offsets{0}, mask_offsets{0}, box_offsets{0}, checksums;
  std::vector<std::int32_t> labels, sizes;
  std::vector<std::string> names;
  std::vector<float> boxes;
  bool any_mask = false;
  std::uint64_t shard_checksum = 0;
};

ShardWriter::ShardWriter(const std::string& path, const ShardInfo& info) : state_(std::make_unique<State>()) {
  quiet_hdf5();
  state_->path = path;
  state_->tmp = path + ".tmp";
  state_->info = info;
}

ShardWriter::~ShardWriter() {
  if (!state_->finished) std::remove(state_->tmp.c_str());
}

void ShardWriter::add(const PackedSample& s) {
  State& st = *state_;
  st.bytes.insert(st.bytes.end(), s.bytes.begin(), s.bytes.end());
  st.offsets.push_back(st.bytes.size());
  st.checksums.push_back(checksum64(s.bytes.data(), s.bytes.size()));
  st.labels.push_back(s.label);
  st.sizes.push_back(s.width);
  st.sizes.push_back(s.height);
  st.names.push_back(s.name);
  for (const Box& b : s.boxes) st.boxes.insert(st.boxes.end(), {b.x0, b.y0, b.x1, b.y1});
  st.box_offsets.push_back(st.boxes.size() / 4);
  st.mask_bytes.insert(st.mask_bytes.end(), s.mask.begin(), s.mask.end());
  st.mask_offsets.push_back(st.mask_bytes.size());
  st.any_mask = st.any_mask || !s.mask.empty();
}

void ShardWriter::finish() {
  State& st = *state_;
  const std::string& f = st.tmp;
  const auto count = static_cast<std::int64_t>(st.names.size());
  st.shard_checksum = XXH64(st.checksums.data(), st.checksums.size() * sizeof(std::uint64_t), 0);
  {
    std::lock_guard<std::mutex> lock(h5_mutex());
    Hid file(C2AM_H5_CHECK(H5Fcreate(f.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), f, "create file"), H5Fclose);
    write_attr(file, f, "format", kShardFormat);
    write_attr(file, f, "version", static_cast<std::int64_t>(kShardFormatVersion));
    write_attr(file, f, "layout", st.info.layout);
    write_attr(file, f, "split", st.info.split);
    write_attr(file, f, "shard_index", static_cast<std::int64_t>(st.info.shard_index));
    write_attr(file, f, "num_shards", static_cast<std::int64_t>(st.info.num_shards));
    write_attr(file, f, "plan_id", st.info.plan_id);
    write_attr(file, f, "count", count);

    Hid images(C2AM_H5_CHECK(H5Gcreate2(file, "images", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), f, "create /images"),
               H5Gclose);
    write_array(images, f, "bytes", H5T_NATIVE_UINT8, st.bytes, 1, kChunkBytes);
    write_array(images, f, "offsets", H5T_NATIVE_UINT64, st.offsets);
    write_array(images, f, "label", H5T_NATIVE_INT32, st.labels);
    write_array(images, f, "size", H5T_NATIVE_INT32, st.sizes, 2);
    write_array(images, f, "checksum", H5T_NATIVE_UINT64, st.checksums);
    {
      Hid str(C2AM_H5_CHECK(H5Tcopy(H5T_C_S1), f, "copy string type"), H5Tclose);
      C2AM_H5_CHECK(H5Tset_size(str, H5T_VARIABLE), f, "variable string");
      C2AM_H5_CHECK(H5Tset_cset(str, H5T_CSET_UTF8), f, "set charset");
      std::vector<const char*> ptrs;
      for (const auto& n : st.names) ptrs.push_back(n.c_str());
      write_array(images, f, "name", str, ptrs);
    }
    Hid boxes(C2AM_H5_CHECK(H5Gcreate2(file, "boxes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), f, "create /boxes"),
              H5Gclose);
    write_array(boxes, f, "data", H5T_NATIVE_FLOAT, st.boxes, 4);
    write_array(boxes, f, "offsets", H5T_NATIVE_UINT64, st.box_offsets);
    if (st.any_mask) {
      Hid masks(C2AM_H5_CHECK(H5Gcreate2(file, "masks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), f, "create /masks"),
                H5Gclose);
      write_array(masks, f, "bytes", H5T_NATIVE_UINT8, st.mask_bytes, 1, kChunkBytes);
      write_array(masks, f, "offsets", H5T_NATIVE_UINT64, st.mask_offsets);
    }
    C2AM_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), f, "flush");
  }
  const int fd = ::open(f.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) throw_errno("cannot fsync shard", f);
  ::close(fd);
  if (::rename(f.c_str(), st.path.c_str()) != 0) throw_errno("cannot rename shard into place", st.path);
  const auto parent = std::filesystem::path(st.path).parent_path();
  const int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  st.finished = true;
}

std::uint64_t ShardWriter::checksum() const { return state_->shard_checksum; }

// ---------------------------------------------------------------------------- reader

struct ShardReader::State {
  std::string path;
  ShardInfo info;
  hid_t file = -1;
  std::int64_t count = 0;
  std::vector<std::uint64_t> offsets, mask_offsets, box_offsets, checksums;
  std::vector<std::int32_t> labels, sizes;
  std::vector<std::string> names;
  std::vector<std::vector<Box>> boxes;
  bool has_masks = false;
};

ShardReader::ShardReader(const std::string& path) : state_(std::make_unique<State>()) {
  quiet_hdf5();
  State& st = *state_;
  st.path = path;
  const std::string& f = path;
  std::lock_guard<std::mutex> lock(h5_mutex());
  if (!std::filesystem::exists(path)) throw IoError(fmt::format("shard '{}' does not exist", path));
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error(fmt::format("{}: not an HDF5 file (truncated or not a shard)", path));
  }
  st.file = C2AM_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), f, "open file (truncated?)");
  try {
    if (read_attr_string(st.file, f, "format") != kShardFormat) throw Error(f + ": not a c2am shard");
    const std::int64_t version = read_attr_int(st.file, f, "version");
    if (version > kShardFormatVersion) {
      throw Error(fmt::format("{}: format version {} is newer than this c2am reads ({})", f, version,
                              kShardFormatVersion));
    }
    st.info.layout = read_attr_string(st.file, f, "layout");
    st.info.split = read_attr_string(st.file, f, "split");
    st.info.plan_id = read_attr_string(st.file, f, "plan_id");
    st.info.shard_index = static_cast<int>(read_attr_int(st.file, f, "shard_index"));
    st.info.num_shards = static_cast<int>(read_attr_int(st.file, f, "num_shards"));
    st.count = read_attr_int(st.file, f, "count");
    const std::int64_t n = st.count;
    st.offsets = read_array<std::uint64_t>(st.file, f, "/images/offsets", H5T_NATIVE_UINT64, 1, n + 1);
    check_offsets(st.offsets, dataset_length(st.file, f, "/images/bytes"), f, "image");
    st.labels = read_array<std::int32_t>(st.file, f, "/images/label", H5T_NATIVE_INT32, 1, n);
    st.sizes = read_array<std::int32_t>(st.file, f, "/images/size", H5T_NATIVE_INT32, 2, n);
    st.checksums = read_array<std::uint64_t>(st.file, f, "/images/checksum", H5T_NATIVE_UINT64, 1, n);
    {
      Hid str(C2AM_H5_CHECK(H5Tcopy(H5T_C_S1), f, "copy string type"), H5Tclose);
      C2AM_H5_CHECK(H5Tset_size(str, H5T_VARIABLE), f, "variable string");
      C2AM_H5_CHECK(H5Tset_cset(str, H5T_CSET_UTF8), f, "set charset");
      std::vector<char*> raw = read_array<char*>(st.file, f, "/images/name", str, 1, n);
      for (char* p : raw) st.names.emplace_back(p != nullptr ? p : "");
      Hid ds(C2AM_H5_CHECK(H5Dopen2(st.file, "/images/name", H5P_DEFAULT), f, "open names"), H5Dclose);
      Hid space(C2AM_H5_CHECK(H5Dget_space(ds), f, "names space"), H5Sclose);
      if (!raw.empty()) H5Dvlen_reclaim(str, space, H5P_DEFAULT, raw.data());
    }
    const std::vector<float> box_data = read_array<float>(st.file, f, "/boxes/data", H5T_NATIVE_FLOAT, 4);
    st.box_offsets = read_array<std::uint64_t>(st.file, f, "/boxes/offsets", H5T_NATIVE_UINT64, 1, n + 1);
    check_offsets(st.box_offsets, box_data.size() / 4, f, "box");
    st.boxes.resize(static_cast<size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::uint64_t b = st.box_offsets[i]; b < st.box_offsets[i + 1]; ++b) {
        st.boxes[i].push_back(Box{box_data[4 * b], box_data[4 * b + 1], box_data[4 * b + 2], box_data[4 * b + 3]});
      }
    }
    st.has_masks = H5Lexists(st.file, "/masks", H5P_DEFAULT) > 0;
    if (st.has_masks) {
      st.mask_offsets = read_array<std::uint64_t>(st.file, f, "/masks/offsets", H5T_NATIVE_UINT64, 1, n + 1);
      check_offsets(st.mask_offsets, dataset_length(st.file, f, "/masks/bytes"), f, "mask");
    }
  } catch (...) {
    H5Fclose(st.file);
    st.file = -1;
    throw;
  }
}

ShardReader::~ShardReader() {
  std::lock_guard<std::mutex> lock(h5_mutex());
  if (state_->file >= 0) H5Fclose(state_->file);
}

const ShardInfo& ShardReader::info() const { return state_->info; }
const std::string& ShardReader::path() const { return state_->path; }
std::int64_t ShardReader::size() const { return state_->count; }
const std::string& ShardReader::name(std::int64_t i) const { return state_->names.at(static_cast<size_t>(i)); }
int ShardReader::label(std::int64_t i) const { return state_->labels.at(static_cast<size_t>(i)); }
int ShardReader::width(std::int64_t i) const { return state_->sizes.at(2 * static_cast<size_t>(i)); }
int ShardReader::height(std::int64_t i) const { return state_->sizes.at(2 * static_cast<size_t>(i) + 1); }
const std::vector<Box>& ShardReader::boxes(std::int64_t i) const { return state_->boxes.at(static_cast<size_t>(i)); }
std::uint64_t ShardReader::stored_checksum(std::int64_t i) const {
  return state_->checksums.at(static_cast<size_t>(i));
}
bool ShardReader::has_masks() const { return state_->has_masks; }

namespace {
std::vector<std::uint8_t> read_range(hid_t file, const std::string& f, const char* path, std::uint64_t begin,
                                     std::uint64_t end) {
  std::vector<std::uint8_t> out(end - begin);
  if (out.empty()) return out;
  std::lock_guard<std::mutex> lock(h5_mutex());
  Hid ds(C2AM_H5_CHECK(H5Dopen2(file, path, H5P_DEFAULT), f, std::string("open ") + path), H5Dclose);
  Hid space(C2AM_H5_CHECK(H5Dget_space(ds), f, "dataspace"), H5Sclose);
  const hsize_t start[1] = {begin}, count[1] = {end - begin};
  C2AM_H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr), f, "select range");
  Hid mem(C2AM_H5_CHECK(H5Screate_simple(1, count, nullptr), f, "memory space"), H5Sclose);
  C2AM_H5_CHECK(H5Dread(ds, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, out.data()), f, std::string("read ") + path);
  return out;
}
}  // namespace

std::vector<std::uint8_t> ShardReader::image_bytes(std::int64_t i) const {
  const State& st = *state_;
  if (i < 0 || i >= st.count) throw Error(fmt::format("{}[{}]: index out of range (size {})", st.path, i, st.count));
  try {
    return read_range(st.file, st.path, "/images/bytes", st.offsets[i], st.offsets[i + 1]);
  } catch (const Error& e) {
    throw Error(fmt::format("{}[{}] ({}): {}", st.path, i, st.names[i], e.what()));
  }
}

std::vector<std::uint8_t> ShardReader::mask_bytes(std::int64_t i) const {
  const State& st = *state_;
  if (i < 0 || i >= st.count) throw Error(fmt::format("{}[{}]: index out of range (size {})", st.path, i, st.count));
  if (!st.has_masks) return {};
  return read_range(st.file, st.path, "/masks/bytes", st.mask_offsets[i], st.mask_offsets[i + 1]);
}

}  // namespace c2am::data
