// Implements: ShardWriter and ShardReader of the packed format (shards.h,
// docs/data-format.md) on top of the HDF5 plumbing in shard_io.h; the
// manifest and verify_packed live in manifest.cpp.
#include "data/shards.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <type_traits>

#include "data/h5_subset.h"
#include "data/shard_io.h"
#include "util/error.h"

namespace c2am::data {

namespace {


// fsync of a file or folder; throws IoError naming it.
void fsync_path(const std::string& path, bool folder) {
  const int fd = ::open(path.c_str(), folder ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw_errno(folder ? "cannot open folder to fsync" : "cannot open shard to fsync", path);
  if (::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    throw_errno("cannot fsync", path);
  }
  ::close(fd);
}

}  // namespace

std::uint64_t checksum64(const std::uint8_t* data, std::size_t size) { return XXH64(data, size, 0); }

std::uint64_t shard_checksum(const std::vector<std::uint64_t>& image_checksums) {
  std::vector<std::uint8_t> le(image_checksums.size() * 8);
  for (size_t i = 0; i < image_checksums.size(); ++i) {
    for (int b = 0; b < 8; ++b) le[8 * i + b] = static_cast<std::uint8_t>(image_checksums[i] >> (8 * b));
  }
  return checksum64(le.data(), le.size());
}

// ---------------------------------------------------------------------------- writer

struct ShardWriter::State {
  std::string path, tmp;
  ShardInfo info;
  bool finished = false;
  std::vector<std::uint8_t> bytes, mask_bytes, name_bytes;
  std::vector<std::uint64_t> offsets{0}, mask_offsets{0}, box_offsets{0}, name_offsets{0}, checksums, mask_checksums;
  std::vector<std::int32_t> labels, sizes;
  std::vector<float> box_data;
  bool any_mask = false;
};

namespace {

template <typename T>
void append_raw(std::string& out, const std::vector<T>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

void append_int(std::string& out, std::int64_t v) {
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(static_cast<std::uint64_t>(v) >> (8 * b)));
}

// The metadata checksum of format 2 (docs/data-format.md): xxh64 over the
// root attributes and every metadata table, in a fixed order, as the bytes
// the file stores (little-endian). With the per-image (and per-mask)
// checksums among the tables, it covers every byte a reader uses. Writer and
// reader states hold the tables under the same names.
template <typename S>
std::uint64_t metadata_checksum(const S& st, const ShardInfo& info, std::int64_t count, bool masks) {
  const std::string format = kShardFormat;
  std::string m;
  for (const std::string* t : {&format, &info.layout, &info.split, &info.plan_id}) {
    m += *t;
    m.push_back('\0');
  }
  for (const std::int64_t v : {std::int64_t{2}, std::int64_t{info.shard_index}, std::int64_t{info.num_shards}, count})
    append_int(m, v);
  append_raw(m, st.offsets);
  append_raw(m, st.labels);
  append_raw(m, st.sizes);
  append_raw(m, st.checksums);
  append_raw(m, st.name_offsets);
  append_raw(m, st.name_bytes);
  append_raw(m, st.box_data);
  append_raw(m, st.box_offsets);
  if (masks) {
    append_raw(m, st.mask_offsets);
    append_raw(m, st.mask_checksums);
  }
  return checksum64(reinterpret_cast<const std::uint8_t*>(m.data()), m.size());
}

std::string checksum_text(std::uint64_t sum) { return fmt::format("xxh64:{:016x}", sum); }

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(n) >= s.size()) return false;  // cut off
    for (int k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

// The calling thread's spare buffer for a shard's image bytes: a writer takes
// it (capacity kept, pages mapped) and gives it back once HDF5 holds the
// bytes, so the next shard appends without reallocating (each growth of a
// fresh vector copied everything again onto newly faulted pages).
std::vector<std::uint8_t>& spare() {
  thread_local std::vector<std::uint8_t> buffer;
  return buffer;
}

std::vector<std::uint8_t> take_spare() {
  std::vector<std::uint8_t> b = std::move(spare());
  spare() = {};
  b.clear();
  return b;
}

void give_back_spare(std::vector<std::uint8_t>&& b) {
  if (b.capacity() > spare().capacity()) spare() = std::move(b);
  b = {};
}

}  // namespace

ShardWriter::ShardWriter(const std::string& path, const ShardInfo& info) : state_(std::make_unique<State>()) {
  state_->bytes = take_spare();
  state_->path = path;
  state_->tmp = path + ".tmp";
  state_->info = info;
}

ShardWriter::~ShardWriter() {
  if (!state_->finished) std::remove(state_->tmp.c_str());  // absent unless finish() failed midway
}

void ShardWriter::add(const PackedSample& s) {
  State& st = *state_;
  if (st.finished) throw Error(fmt::format("{}: add() after finish()", st.path));
  if (s.name.empty()) throw Error(fmt::format("{}: sample {} has no name", st.path, st.labels.size()));
  if (!valid_utf8(s.name))
    throw Error(fmt::format("{}: the name of sample {} is not valid UTF-8", st.path, st.labels.size()));
  st.bytes.insert(st.bytes.end(), s.bytes.begin(), s.bytes.end());
  st.offsets.push_back(st.bytes.size());
  st.checksums.push_back(checksum64(s.bytes.data(), s.bytes.size()));
  st.labels.push_back(s.label);
  st.sizes.push_back(s.width);
  st.sizes.push_back(s.height);
  st.name_bytes.insert(st.name_bytes.end(), s.name.begin(), s.name.end());
  st.name_offsets.push_back(st.name_bytes.size());
  for (const image::Box& b : s.boxes) st.box_data.insert(st.box_data.end(), {b.x0, b.y0, b.x1, b.y1});
  st.box_offsets.push_back(st.box_data.size() / 4);
  st.mask_bytes.insert(st.mask_bytes.end(), s.mask.begin(), s.mask.end());
  st.mask_offsets.push_back(st.mask_bytes.size());
  st.mask_checksums.push_back(checksum64(s.mask.data(), s.mask.size()));
  st.any_mask = st.any_mask || !s.mask.empty();
}

namespace {

// A group without creation/modification times (as the datasets, shard_io.cpp),
// so that a shard's bytes depend only on its contents: packs of the same plan,
// by one process or several ranks, now or later, give identical files.
h5::Hid create_group(hid_t file, const std::string& f, const char* name) {
  h5::Hid gcpl(C2AM_H5_CHECK(H5Pcreate(H5P_GROUP_CREATE), f, "create group creation list"), H5Pclose);
  C2AM_H5_CHECK(H5Pset_obj_track_times(gcpl, 0), f, "turn off object times");
  return h5::Hid(C2AM_H5_CHECK(H5Gcreate2(file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT), f,
                               fmt::format("create /{}", name)),
                 H5Gclose);
}

// Writes all of `bytes` to a new file `path`; errors (a full disk: ENOSPC)
// name the file. The caller removes the file on failure.
void write_whole_file(const std::string& path, h5::ImageView bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("cannot create shard", path);
  std::size_t done = 0;
  while (done < bytes.size) {
    const ssize_t n = ::write(fd, bytes.data + done, bytes.size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = n < 0 ? errno : EIO;
      ::close(fd);
      errno = saved;
      throw_errno(fmt::format("cannot write shard ({} of {} bytes written)", done, bytes.size), path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) throw_errno("cannot close shard", path);
}

// Writes the buffered shard to st.tmp (datasets and attributes as in
// docs/data-format.md). HDF5 builds the file in memory (the core driver, no
// backing store) and this code writes its bytes: a full disk is then an
// ordinary write error here, never a failed flush inside HDF5 (which left a
// file libhdf5 could neither close nor drop, and its exit-time cleanup
// crashed on it). The file's image lives in the thread's reusable buffer
// (h5::create_reusable_memory_file) and is written from there; the image
// bytes go back to the thread's spare buffer once HDF5 holds them, so the
// peak is about twice the shard, and neither buffer is allocated (page
// faults, zeroing) again for the next shard.
template <typename WriterState>
void write_hdf5(WriterState& st) {
  const std::string& f = st.tmp;
  const ShardInfo& info = st.info;
  const auto count = static_cast<std::int64_t>(st.labels.size());
  using h5::Hid;
  h5::ImageView image;
  {
    h5::Lock lock;
    // One allocation for the whole image (the bytes plus metadata room): each
    // growth by a smaller increment reallocated, copied and zeroed the image
    // again (memmove + memset were a quarter of pack's profile).
    const std::size_t image_size = st.bytes.size() + st.mask_bytes.size() + (std::size_t{1} << 20);
    Hid file = h5::create_reusable_memory_file(f, image_size);
    static_assert(kShardFormatVersion == 2, "the writer writes format 2");
    h5::write_attr_fixed(file, f, "format", std::string(kShardFormat));
    h5::write_attr(file, f, "version", std::int64_t{kShardFormatVersion});
    h5::write_attr_fixed(file, f, "layout", info.layout);
    h5::write_attr_fixed(file, f, "split", info.split);
    h5::write_attr(file, f, "shard_index", std::int64_t{info.shard_index});
    h5::write_attr(file, f, "num_shards", std::int64_t{info.num_shards});
    h5::write_attr_fixed(file, f, "plan_id", info.plan_id);
    h5::write_attr(file, f, "count", count);
    h5::write_attr_fixed(file, f, "metadata_checksum", checksum_text(metadata_checksum(st, info, count, st.any_mask)));

    const auto n = static_cast<hsize_t>(count);
    {
      Hid g = create_group(file, f, "images");
      // Contiguous (format 2): one byte range of the file, which the manifest's
      // header excludes from its checksum (ShardHeader).
      h5::write_dataset(g, f, "bytes", H5T_NATIVE_UINT8, st.bytes.data(), st.bytes.size());
      give_back_spare(std::move(st.bytes));  // HDF5 holds them now
      h5::write_dataset(g, f, "offsets", H5T_NATIVE_UINT64, st.offsets.data(), n + 1);
      h5::write_dataset(g, f, "label", H5T_NATIVE_INT32, st.labels.data(), n);
      h5::write_dataset(g, f, "size", H5T_NATIVE_INT32, st.sizes.data(), n, 2);
      h5::write_dataset(g, f, "checksum", H5T_NATIVE_UINT64, st.checksums.data(), n);
      h5::write_dataset(g, f, "name_bytes", H5T_NATIVE_UINT8, st.name_bytes.data(), st.name_bytes.size());
      h5::write_dataset(g, f, "name_offsets", H5T_NATIVE_UINT64, st.name_offsets.data(), n + 1);
    }
    {
      Hid g = create_group(file, f, "boxes");
      h5::write_dataset(g, f, "data", H5T_NATIVE_FLOAT, st.box_data.data(), st.box_data.size() / 4, 4);
      h5::write_dataset(g, f, "offsets", H5T_NATIVE_UINT64, st.box_offsets.data(), n + 1);
    }
    if (st.any_mask) {
      Hid g = create_group(file, f, "masks");
      h5::write_dataset(g, f, "bytes", H5T_NATIVE_UINT8, st.mask_bytes.data(), st.mask_bytes.size());
      st.mask_bytes = {};
      h5::write_dataset(g, f, "offsets", H5T_NATIVE_UINT64, st.mask_offsets.data(), n + 1);
      h5::write_dataset(g, f, "checksum", H5T_NATIVE_UINT64, st.mask_checksums.data(), n);
    }
    image = h5::reusable_memory_file_view(file, f);
    file.close_checked(f, "close the in-memory file");  // clears the superblock's "open for writing" flags
  }
  write_whole_file(f, image);  // the thread's buffer holds the closed file until its next file
}

}  // namespace

void ShardWriter::finish() {
  State& st = *state_;
  if (st.finished) throw Error(fmt::format("{}: finish() called twice", st.path));
  write_hdf5(st);
  fsync_path(st.tmp, /*folder=*/false);
  if (::rename(st.tmp.c_str(), st.path.c_str()) != 0) throw_errno("cannot rename shard into place", st.path);
  st.finished = true;
  const auto parent = std::filesystem::path(st.path).parent_path();
  fsync_path(parent.empty() ? "." : parent.string(), /*folder=*/true);
  // Only the per-image checksums are needed from now on (checksum()); the
  // image bytes went back to the spare above.
  st.mask_bytes = {};
  st.box_data = {};
  st.name_bytes = {};
}

std::uint64_t ShardWriter::checksum() const { return shard_checksum(state_->checksums); }

// ---------------------------------------------------------------------------- reader

struct ShardReader::State {
  std::string path;
  ShardInfo info;
  int oldest_version = 1;
  std::int64_t version = 0;
  // Format 2 is read by c2am's own HDF5 reader (`lite`), format 1 by libhdf5.
  std::unique_ptr<h5subset::File> lite;
  const h5subset::Dataset* lite_images = nullptr;
  const h5subset::Dataset* lite_masks = nullptr;
  h5::Hid file, image_data, mask_data;  // file first: the datasets close before it
  std::int64_t count = 0;
  // The tables as stored (metadata_checksum reads them under the writer's names).
  std::vector<std::uint64_t> offsets, mask_offsets, box_offsets, name_offsets, checksums, mask_checksums;
  std::vector<std::int32_t> labels, sizes;
  std::vector<std::uint8_t> name_bytes;
  std::vector<float> box_data;
  std::vector<std::string> names;
  std::vector<std::vector<image::Box>> boxes;
  bool has_masks = false;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> data_ranges;  // format 2: see ShardHeader

  void close() {
    mask_data.reset();
    image_data.reset();
    file.reset();
  }
};

namespace {

// Offsets must start at 0, never decrease, and end at the data's length.
void check_offsets(const std::vector<std::uint64_t>& off, std::uint64_t total, const std::string& file,
                   const char* offsets_name, const char* data_name) {
  if (off.empty() || off.front() != 0) {
    throw Error(fmt::format("{}: {} does not start at 0", file, offsets_name));
  }
  for (size_t i = 1; i < off.size(); ++i) {
    if (off[i] < off[i - 1]) {
      throw Error(fmt::format("{}: {} decreases at index {} ({} > {})", file, offsets_name, i - 1, off[i - 1],
                              off[i]));
    }
  }
  if (off.back() != total) {
    throw Error(fmt::format("{}: {} ends at {} but {} holds {} (inconsistent or damaged shard)", file,
                            offsets_name, off.back(), data_name, total));
  }
}

template <typename T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
}

// A shard as libhdf5 reads it (format 1, under the caller's h5::Lock). Its
// variable-length names go through libhdf5's global heap, which a crafted
// file can point anywhere: format 2 has none, and is read by LiteShard.
template <typename State>
struct Hdf5Shard {
  State& st;
  static constexpr bool kReadsFormat1 = true;

  std::string attr_string(const char* name, bool allow_variable) const {
    return h5::read_attr_string(st.file, st.path, name, allow_variable);
  }
  std::int64_t attr_int(const char* name) const { return h5::read_attr_int(st.file, st.path, name); }
  template <typename T>
  std::vector<T> read(const char* path, std::uint64_t columns, std::int64_t rows) const {
    return h5::read_dataset<T>(st.file, st.path, path, native_type<T>(), columns, rows);
  }
  bool exists(const char* path) const { return h5::exists(st.file, st.path, path); }
  // /images/bytes and /masks/bytes are read in small pieces at random: with
  // no chunk cache HDF5 reads exactly the selected bytes from the file (the
  // chunks are not compressed) instead of whole 1 MiB chunks. Returns the length.
  std::uint64_t open_bytes(const char* path, bool mask) const {
    const std::string& f = st.path;
    h5::Hid dapl(C2AM_H5_CHECK(H5Pcreate(H5P_DATASET_ACCESS), f, "create access property list"), H5Pclose);
    C2AM_H5_CHECK(H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT), f,
                  "set the chunk cache");
    h5::Hid ds = h5::open_dataset(st.file, f, path, dapl);
    const h5::Shape shape = h5::dataset_shape(ds, f, path);
    if (shape.rank != 1) throw Error(fmt::format("{}: dataset '{}' is not 1-D", f, path));
    h5::check_stored(ds, f, path, shape.rows);
    (mask ? st.mask_data : st.image_data) = std::move(ds);
    return shape.rows;
  }
  void add_data_range(bool) const {}  // format 1 has no header
  void load_names_v1(std::int64_t n) const {
    const std::string& f = st.path;
    h5::Hid str = h5::utf8_vlen_type(f);
    std::vector<char*> raw = h5::read_dataset<char*>(st.file, f, "/images/name", str, 1, n);
    st.names.reserve(raw.size());
    for (char* p : raw) st.names.emplace_back(p != nullptr ? p : "");
    if (!raw.empty()) {
      const hsize_t dims[1] = {raw.size()};
      h5::Hid space(C2AM_H5_CHECK(H5Screate_simple(1, dims, nullptr), f, "create dataspace"), H5Sclose);
      C2AM_H5_CHECK(H5Dvlen_reclaim(str, space, H5P_DEFAULT, raw.data()), f, "free the names");
    }
  }
};

// A shard as c2am's own HDF5 reader reads it (format 2): libhdf5 never
// parses a structure of a shard it reads (docs/data-format.md).
template <typename State>
struct LiteShard {
  State& st;
  static constexpr bool kReadsFormat1 = false;

  std::string attr_string(const char* name, bool) const {
    return st.lite->attr_string(name, h5::kMaxAttrStringBytes);
  }
  std::int64_t attr_int(const char* name) const { return st.lite->attr_int(name); }
  template <typename T>
  std::vector<T> read(const char* path, std::uint64_t columns, std::int64_t rows) const {
    return st.lite->template read<T>(path, columns, rows);
  }
  bool exists(const char* path) const { return st.lite->exists(path); }
  std::uint64_t open_bytes(const char* path, bool mask) const {
    const h5subset::Dataset& ds = st.lite->dataset(path);
    if (ds.rank != 1) throw Error(fmt::format("{}: dataset '{}' is not 1-D", st.path, path));
    (void)st.lite->read_bytes(ds, st.path, 0, 0);  // type, layout, and that the file stores every byte
    (mask ? st.lite_masks : st.lite_images) = &ds;
    return ds.dims[0];
  }
  void add_data_range(bool mask) const {
    const h5subset::Dataset& ds = *(mask ? st.lite_masks : st.lite_images);
    if (ds.storage > 0) st.data_ranges.emplace_back(ds.address, ds.storage);
  }
  void load_names_v1(std::int64_t) const {}
};

// Format 2's names: UTF-8 bytes and their offsets, like the images.
template <typename State, typename Src>
void load_names_v2(State& st, const Src& src, std::int64_t n) {
  const std::string& f = st.path;
  st.name_bytes = src.template read<std::uint8_t>("/images/name_bytes", 1, -1);
  st.name_offsets = src.template read<std::uint64_t>("/images/name_offsets", 1, n + 1);
  check_offsets(st.name_offsets, st.name_bytes.size(), f, "/images/name_offsets", "/images/name_bytes");
  st.names.reserve(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto* b = reinterpret_cast<const char*>(st.name_bytes.data());
    std::string name(b + st.name_offsets[i], b + st.name_offsets[i + 1]);
    if (name.empty() || !valid_utf8(name) || name.find('\0') != std::string::npos)
      throw Error(fmt::format("{}[{}]: the stored name is empty or not valid UTF-8 (damaged shard)", f, i));
    st.names.push_back(std::move(name));
  }
}

// Validates the attributes and loads all metadata of an opened shard.
template <typename State, typename Src>
void load_shard(State& st, const Src& src) {
  const std::string& f = st.path;
  const std::int64_t version = src.attr_int("version");
  if (version > kShardFormatVersion) {
    throw Error(fmt::format("{}: shard format version {} is newer than this c2am reads ({}); update c2am", f,
                            version, kShardFormatVersion));
  }
  if (version < 1) throw Error(fmt::format("{}: invalid shard format version {}", f, version));
  if (version < st.oldest_version)
    throw Error(
        fmt::format("{}: shard format version {} is refused here (the oldest accepted is {}); repack the "
                    "folder with this c2am (c2am pack --force)",
                    f, version, st.oldest_version));
  const bool v1 = version == 1;  // variable-length strings allowed only there
  if (v1 != Src::kReadsFormat1)
    throw Error(fmt::format("{}: format {} read by the wrong reader (a bug)", f, version));
  const std::string format = src.attr_string("format", v1);
  if (format != kShardFormat) {
    throw Error(fmt::format("{}: not a c2am shard (format attribute is '{}', expected '{}')", f, format,
                            kShardFormat));
  }
  st.version = version;
  st.info.layout = src.attr_string("layout", v1);
  st.info.split = src.attr_string("split", v1);
  st.info.plan_id = src.attr_string("plan_id", v1);
  st.info.shard_index = static_cast<int>(src.attr_int("shard_index"));
  st.info.num_shards = static_cast<int>(src.attr_int("num_shards"));
  st.count = src.attr_int("count");
  if (st.count < 0) throw Error(fmt::format("{}: attribute 'count' is negative ({})", f, st.count));
  constexpr std::int64_t kMaxCount = std::int64_t{1} << 40;  // far beyond any shard; n + 1 must not overflow
  if (st.count > kMaxCount)
    throw Error(
        fmt::format("{}: attribute 'count' is {}, more than a shard can hold (damaged)", f, st.count));
  const std::int64_t n = st.count;

  const std::uint64_t image_bytes = src.open_bytes("/images/bytes", false);
  st.offsets = src.template read<std::uint64_t>("/images/offsets", 1, n + 1);
  check_offsets(st.offsets, image_bytes, f, "/images/offsets", "/images/bytes");
  st.labels = src.template read<std::int32_t>("/images/label", 1, n);
  st.sizes = src.template read<std::int32_t>("/images/size", 2, n);
  st.checksums = src.template read<std::uint64_t>("/images/checksum", 1, n);
  if (v1) {
    src.load_names_v1(n);
  } else {
    load_names_v2(st, src, n);
  }
  st.box_data = src.template read<float>("/boxes/data", 4, -1);
  st.box_offsets = src.template read<std::uint64_t>("/boxes/offsets", 1, n + 1);
  check_offsets(st.box_offsets, st.box_data.size() / 4, f, "/boxes/offsets", "/boxes/data");
  st.has_masks = src.exists("/masks");
  if (st.has_masks) {
    const std::uint64_t mask_bytes = src.open_bytes("/masks/bytes", true);
    st.mask_offsets = src.template read<std::uint64_t>("/masks/offsets", 1, n + 1);
    check_offsets(st.mask_offsets, mask_bytes, f, "/masks/offsets", "/masks/bytes");
    if (!v1) st.mask_checksums = src.template read<std::uint64_t>("/masks/checksum", 1, n);
  }
  if (!v1) {  // before anything of it is used
    const std::string stored = src.attr_string("metadata_checksum", false);
    const std::string computed = checksum_text(metadata_checksum(st, st.info, n, st.has_masks));
    if (stored != computed)
      throw Error(
          fmt::format("{}: metadata checksum mismatch (stored '{}', computed '{}'): its labels, sizes, "
                      "names, boxes, offsets or checksums were changed or damaged",
                      f, stored, computed));
    src.add_data_range(false);
    if (st.has_masks) src.add_data_range(true);
    std::sort(st.data_ranges.begin(), st.data_ranges.end());
  }
  st.boxes.resize(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::uint64_t b = st.box_offsets[i]; b < st.box_offsets[i + 1]; ++b) {
      st.boxes[i].push_back(image::Box{st.box_data[4 * b], st.box_data[4 * b + 1], st.box_data[4 * b + 2],
                                       st.box_data[4 * b + 3]});
    }
  }
}

}  // namespace

namespace {

// XXH64 (seed 0) of every byte of the file `path` outside `data` (ascending,
// non-overlapping (offset, size) ranges inside the file), read with pread.
std::uint64_t hash_outside(const std::string& path, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& data) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open shard", path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const off_t end = ::lseek(fd, 0, SEEK_END);
  if (end < 0) throw_errno("cannot size shard", path);
  const auto size = static_cast<std::uint64_t>(end);
  std::unique_ptr<XXH64_state_t, XXH_errorcode (*)(XXH64_state_t*)> h(XXH64_createState(), XXH64_freeState);
  if (!h) throw std::bad_alloc();
  XXH64_reset(h.get(), 0);
  std::vector<char> buf(std::size_t{1} << 20);
  std::uint64_t pos = 0;
  auto hash_until = [&](std::uint64_t stop) {
    while (pos < stop) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), stop - pos));
      const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw_errno("cannot read shard", path);
      XXH64_update(h.get(), buf.data(), static_cast<std::size_t>(got));
      pos += static_cast<std::uint64_t>(got);
    }
  };
  for (const auto& [offset, length] : data) {
    if (offset < pos || offset > size || length > size - offset)
      throw Error(fmt::format("{}: the manifest's data range ({}, {}) does not fit the {}-byte file (damaged, or "
                              "not the shard the manifest describes)",
                              path, offset, length, size));
    hash_until(offset);
    pos = offset + length;
  }
  hash_until(size);
  return XXH64_digest(h.get());
}

std::string ranges_text(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& r) {
  std::string out;
  for (const auto& [o, n] : r) out += fmt::format("{}({}, {})", out.empty() ? "" : " ", o, n);
  return out.empty() ? "none" : out;
}

}  // namespace

ShardReader::ShardReader(const std::string& path, int oldest_version, const ShardHeader* expected)
    : state_(std::make_unique<State>()) {
  State& st = *state_;
  st.path = path;
  st.oldest_version = oldest_version;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw IoError(fmt::format("{}: shard file does not exist or is not a regular file", path));
  }
  if (expected != nullptr) {  // before libhdf5 parses anything of it
    const std::uint64_t sum = hash_outside(path, expected->data);
    if (sum != expected->checksum)
      throw Error(fmt::format("{}: header checksum mismatch (the manifest's {:016x}, the file's {:016x}): the "
                              "shard's HDF5 structure was changed or damaged, or it is not the shard the manifest "
                              "lists; it is not opened",
                              path, expected->checksum, sum));
  }
  // c2am's own reader parses the structure first: libhdf5 never sees a
  // format-2 shard, and sees a format-1 one only after its structure checked
  // out, links and storage included (every link hard, no external or
  // virtual storage), so libhdf5 is not asked to check those again.
  st.lite = std::make_unique<h5subset::File>(path);
  if (!st.lite->has_attribute("format"))
    throw Error(fmt::format("{}: not a c2am shard (no attribute 'format')", path));
  // (format 1 where it is refused here is refused by load_shard, before libhdf5 opens it)
  const bool v1 = st.lite->attr_int("version") == 1 && st.oldest_version <= 1;
  h5::Lock lock;
  try {
    if (v1) {
      st.file = h5::Hid(C2AM_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path,
                                      "open the file (cut short or damaged?)"),
                        H5Fclose);
      st.lite.reset();
      load_shard(st, Hdf5Shard<State>{st});
    } else {
      load_shard(st, LiteShard<State>{st});
    }
    if (expected != nullptr && st.data_ranges != expected->data)
      throw Error(fmt::format("{}: its image and mask data lie at {}, the manifest says {}", path,
                              ranges_text(st.data_ranges), ranges_text(expected->data)));
  } catch (...) {
    st.close();  // under the lock, unlike the members' destructors
    throw;
  }
}

ShardReader::~ShardReader() {
  h5::Lock lock;
  state_->close();
}

namespace {
// The read bytes against their stored xxh64 (cheap next to a decode: GB/s).
void check_bytes(const std::vector<std::uint8_t>& bytes, std::uint64_t stored, const std::string& where) {
  const std::uint64_t sum = checksum64(bytes.data(), bytes.size());
  if (sum != stored)
    throw Error(fmt::format("{}: checksum mismatch (stored {:016x}, the bytes hash to {:016x}): the bytes are "
                            "damaged",
                            where, stored, sum));
}

template <typename State>
size_t checked_index(const State& st, std::int64_t i) {
  if (i < 0 || i >= st.count) {
    throw Error(fmt::format("{}[{}]: index out of range (the shard holds {} images)", st.path, i, st.count));
  }
  return static_cast<size_t>(i);
}
}  // namespace

const ShardInfo& ShardReader::info() const { return state_->info; }
const std::string& ShardReader::path() const { return state_->path; }
std::int64_t ShardReader::size() const { return state_->count; }
const std::string& ShardReader::name(std::int64_t i) const {
  return state_->names[checked_index(*state_, i)];
}
int ShardReader::label(std::int64_t i) const { return state_->labels[checked_index(*state_, i)]; }
int ShardReader::width(std::int64_t i) const { return state_->sizes[2 * checked_index(*state_, i)]; }
int ShardReader::height(std::int64_t i) const { return state_->sizes[2 * checked_index(*state_, i) + 1]; }
const std::vector<image::Box>& ShardReader::boxes(std::int64_t i) const {
  return state_->boxes[checked_index(*state_, i)];
}
std::uint64_t ShardReader::stored_checksum(std::int64_t i) const {
  return state_->checksums[checked_index(*state_, i)];
}
bool ShardReader::has_masks() const { return state_->has_masks; }

std::optional<ShardHeader> ShardReader::header() const {
  const State& st = *state_;
  if (st.version < 2) return std::nullopt;
  return ShardHeader{hash_outside(st.path, st.data_ranges), st.data_ranges};
}

std::vector<std::uint8_t> ShardReader::image_bytes(std::int64_t i) const {
  const State& st = *state_;
  const size_t k = checked_index(st, i);
  const std::string where = fmt::format("{}[{}] ({})", st.path, i, st.names[k]);
  std::vector<std::uint8_t> bytes;
  if (st.lite) {
    bytes = st.lite->read_bytes(*st.lite_images, where, st.offsets[k], st.offsets[k + 1]);
  } else {
    h5::Lock lock;
    bytes = h5::read_bytes(st.image_data, where, st.offsets[k], st.offsets[k + 1]);
  }
  check_bytes(bytes, st.checksums[k], where);
  return bytes;
}

std::vector<std::uint8_t> ShardReader::mask_bytes(std::int64_t i) const {
  const State& st = *state_;
  const size_t k = checked_index(st, i);
  if (!st.has_masks || st.mask_offsets[k] == st.mask_offsets[k + 1]) return {};
  const std::string where = fmt::format("{}[{}] ({}) mask", st.path, i, st.names[k]);
  std::vector<std::uint8_t> bytes;
  if (st.lite) {
    bytes = st.lite->read_bytes(*st.lite_masks, where, st.mask_offsets[k], st.mask_offsets[k + 1]);
  } else {
    h5::Lock lock;
    bytes = h5::read_bytes(st.mask_data, where, st.mask_offsets[k], st.mask_offsets[k + 1]);
  }
  if (!st.mask_checksums.empty()) check_bytes(bytes, st.mask_checksums[k], where);  // format 2
  return bytes;
}

}  // namespace c2am::data
