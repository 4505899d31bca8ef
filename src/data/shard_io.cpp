// Implements: the HDF5 plumbing of the packed format (shard_io.h).
#include "data/shard_io.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "util/error.h"
#include "util/half.h"

namespace c2am::data::h5 {

namespace {

herr_t collect_error(unsigned n, const H5E_error2_t* e, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (n > 0) *s += "; ";
  *s += e->desc != nullptr && e->desc[0] != '\0' ? e->desc : "(no description)";
  char minor[128] = {0};
  if (H5Eget_msg(e->min_num, nullptr, minor, sizeof minor) > 0) *s += fmt::format(" [{}]", minor);
  if (e->func_name != nullptr) *s += fmt::format(" in {}()", e->func_name);
  return 0;
}

// HDF5's error stack of this thread as one line, innermost (most specific) first; clears it.
std::string error_stack() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &s);
  H5Eclear2(H5E_DEFAULT);
  std::replace(s.begin(), s.end(), '\n', ' ');  // some descriptions end in a newline
  return s.empty() ? "no HDF5 error detail" : s;
}

std::mutex& library_mutex() {
  static std::mutex m;  // guards the one HDF5 library of the process
  return m;
}

std::string base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

}  // namespace

void fail(std::string_view where, std::string_view what, const char* src, int line) {
  throw Error(
      fmt::format("{}: HDF5 {} failed [{}:{}]: {}", where, what, base_name(src), line, error_stack()));
}

Lock::Lock() : guard_(library_mutex()) {
  thread_local const bool quiet = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)quiet;
}

Hid& Hid::operator=(Hid&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

void Hid::reset() {
  if (id_ >= 0) close_(id_);
  id_ = -1;
}

void Hid::close_checked(std::string_view where, std::string_view what) {
  const hid_t id = id_;
  id_ = -1;
  C2AM_H5_CHECK(close_(id), where, what);
}

bool exists(hid_t loc, const std::string& file, const std::string& path) {
  // H5Lexists on "/a/b" needs "/a" to exist; check each component.
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    const size_t next = path.find('/', pos + 1);
    prefix = path.substr(0, next);
    if (prefix != "/" && !prefix.empty() &&
        C2AM_H5_CHECK(H5Lexists(loc, prefix.c_str(), H5P_DEFAULT), file, "look up " + prefix) == 0) {
      return false;
    }
    pos = next;
  }
  return true;
}

Hid open_dataset(hid_t loc, const std::string& file, const std::string& path, hid_t dapl) {
  if (!exists(loc, file, path)) throw Error(fmt::format("{}: dataset '{}' is missing", file, path));
  return Hid(C2AM_H5_CHECK(H5Dopen2(loc, path.c_str(), dapl), file, "open dataset " + path), H5Dclose);
}

void write_attr(hid_t loc, const std::string& file, const char* name, const std::string& value) {
  Hid type = utf8_vlen_type(file);  // h5py reads it as str
  Hid space(C2AM_H5_CHECK(H5Screate(H5S_SCALAR), file, "create scalar space"), H5Sclose);
  Hid attr(C2AM_H5_CHECK(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), file,
                         fmt::format("create attribute '{}'", name)),
           H5Aclose);
  const char* p = value.c_str();
  C2AM_H5_CHECK(H5Awrite(attr, type, &p), file, fmt::format("write attribute '{}'", name));
}

void write_attr_fixed(hid_t loc, const std::string& file, const char* name, const std::string& value) {
  Hid type(C2AM_H5_CHECK(H5Tcopy(H5T_C_S1), file, "copy string type"), H5Tclose);
  C2AM_H5_CHECK(H5Tset_size(type, std::max<std::size_t>(value.size(), 1)), file, "size a string type");
  C2AM_H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD), file, "set string padding");
  C2AM_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), file, "set charset");
  Hid space(C2AM_H5_CHECK(H5Screate(H5S_SCALAR), file, "create scalar space"), H5Sclose);
  Hid attr(C2AM_H5_CHECK(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), file,
                         fmt::format("create attribute '{}'", name)),
           H5Aclose);
  std::string padded = value;
  padded.resize(std::max<std::size_t>(value.size(), 1), '\0');
  C2AM_H5_CHECK(H5Awrite(attr, type, padded.data()), file, fmt::format("write attribute '{}'", name));
}

void write_attr(hid_t loc, const std::string& file, const char* name, std::int64_t value) {
  Hid space(C2AM_H5_CHECK(H5Screate(H5S_SCALAR), file, "create scalar space"), H5Sclose);
  Hid attr(C2AM_H5_CHECK(H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), file,
                         fmt::format("create attribute '{}'", name)),
           H5Aclose);
  C2AM_H5_CHECK(H5Awrite(attr, H5T_NATIVE_INT64, &value), file, fmt::format("write attribute '{}'", name));
}

namespace {
Hid open_attr(hid_t loc, const std::string& file, const char* name) {
  if (C2AM_H5_CHECK(H5Aexists(loc, name), file, fmt::format("look up attribute '{}'", name)) == 0) {
    throw Error(fmt::format("{}: not a c2am shard (no attribute '{}')", file, name));
  }
  return Hid(C2AM_H5_CHECK(H5Aopen(loc, name, H5P_DEFAULT), file, fmt::format("open attribute '{}'", name)),
             H5Aclose);
}
}  // namespace

std::string read_attr_string(hid_t loc, const std::string& file, const char* name, bool allow_variable) {
  Hid attr = open_attr(loc, file, name);
  Hid type(C2AM_H5_CHECK(H5Aget_type(attr), file, "get attribute type"), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING)
    throw Error(fmt::format("{}: attribute '{}' is not a string", file, name));
  Hid space(C2AM_H5_CHECK(H5Aget_space(attr), file, "get attribute space"), H5Sclose);
  if (C2AM_H5_CHECK(H5Sget_simple_extent_npoints(space), file, "count attribute elements") != 1)
    throw Error(fmt::format("{}: attribute '{}' is not a single string", file, name));
  const std::string what = fmt::format("read attribute '{}'", name);
  if (C2AM_H5_CHECK(H5Tis_variable_str(type), file, what) > 0) {  // as c2am and h5py write them
    if (!allow_variable)
      throw Error(fmt::format("{}: attribute '{}' is a variable-length string, which this shard format does "
                              "not use (damaged or forged file)",
                              file, name));
    Hid mem = utf8_vlen_type(file);
    char* p = nullptr;
    C2AM_H5_CHECK(H5Aread(attr, mem, &p), file, what);
    std::string out = p != nullptr ? p : "";
    H5free_memory(p);
    return out;
  }
  const std::size_t size = H5Tget_size(type);
  if (size == 0 || size > kMaxAttrStringBytes)
    throw Error(fmt::format("{}: attribute '{}' claims a {}-byte string (at most {}): damaged", file, name, size,
                            kMaxAttrStringBytes));
  if (C2AM_H5_CHECK(H5Aget_storage_size(attr), file, what) < size)
    throw Error(fmt::format("{}: attribute '{}' stores fewer bytes than its {}-byte string: damaged", file, name, size));
  std::string out(size, '\0');
  C2AM_H5_CHECK(H5Aread(attr, type, out.data()), file, what);
  out.erase(std::find(out.begin(), out.end(), '\0'), out.end());
  return out;
}

std::int64_t read_attr_int(hid_t loc, const std::string& file, const char* name) {
  Hid attr = open_attr(loc, file, name);
  Hid type(C2AM_H5_CHECK(H5Aget_type(attr), file, "get attribute type"), H5Tclose);
  if (H5Tget_class(type) != H5T_INTEGER) {
    throw Error(fmt::format("{}: attribute '{}' is not an integer", file, name));
  }
  std::int64_t v = 0;
  C2AM_H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, &v), file, fmt::format("read attribute '{}'", name));
  return v;
}

void write_dataset(hid_t loc, const std::string& file, const char* name, hid_t type, const void* data,
                   hsize_t rows, hsize_t columns, hsize_t chunk_rows) {
  const int rank = columns == 1 ? 1 : 2;
  const hsize_t dims[2] = {rows, columns};
  Hid space(C2AM_H5_CHECK(H5Screate_simple(rank, dims, nullptr), file, "create dataspace"), H5Sclose);
  Hid dcpl(C2AM_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), file, "create property list"), H5Pclose);
  // No creation/modification times: the same data gives the same file bytes.
  C2AM_H5_CHECK(H5Pset_obj_track_times(dcpl, 0), file, "turn off object times");
  if (chunk_rows > 0 && rows > 0) {
    const hsize_t chunk[2] = {std::min(rows, chunk_rows), columns};
    C2AM_H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), file, "set chunking");
  }
  Hid ds(C2AM_H5_CHECK(H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), file,
                       fmt::format("create dataset '{}'", name)),
         H5Dclose);
  if (rows > 0) {
    C2AM_H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), file,
                  fmt::format("write dataset '{}'", name));
  }
}

Shape dataset_shape(hid_t ds, const std::string& file, const std::string& path) {
  Hid space(C2AM_H5_CHECK(H5Dget_space(ds), file, "get dataspace of " + path), H5Sclose);
  const int rank = C2AM_H5_CHECK(H5Sget_simple_extent_ndims(space), file, "get rank of " + path);
  if (rank < 1 || rank > 2)
    throw Error(fmt::format("{}: dataset '{}' has rank {}, not 1 or 2", file, path, rank));
  hsize_t dims[2] = {0, 1};
  C2AM_H5_CHECK(H5Sget_simple_extent_dims(space, dims, nullptr), file, "get dimensions of " + path);
  return Shape{rank, dims[0], rank == 2 ? dims[1] : 1};
}

template <typename T>
std::vector<T> read_dataset(hid_t file_id, const std::string& file, const std::string& path, hid_t mem_type,
                            hsize_t columns, std::int64_t rows) {
  Hid ds = open_dataset(file_id, file, path);
  const Shape s = dataset_shape(ds, file, path);
  const int want_rank = columns == 1 ? 1 : 2;
  if (s.rank != want_rank || s.columns != columns || (rows >= 0 && s.rows != static_cast<hsize_t>(rows))) {
    const std::string have =
        s.rank == 1 ? fmt::format("({},)", s.rows) : fmt::format("({}, {})", s.rows, s.columns);
    const std::string n = rows >= 0 ? std::to_string(rows) : "n";
    const std::string want = columns == 1 ? fmt::format("({},)", n) : fmt::format("({}, {})", n, columns);
    throw Error(fmt::format("{}: dataset '{}' has shape {}, expected {}", file, path, have, want));
  }
  check_stored(ds, file, path, s.rows * columns);
  std::vector<T> out(s.rows * columns);  // value-initialised: null for strings
  if (out.empty()) return out;
  if constexpr (std::is_same_v<T, char*>) {
    // A read of variable-length strings that fails halfway (a damaged heap)
    // has allocated some of them: free those before reporting it.
    try {
      C2AM_H5_CHECK(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), file, "read " + path);
    } catch (...) {
      for (char* p : out) H5free_memory(p);
      throw;
    }
  } else {
    C2AM_H5_CHECK(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), file, "read " + path);
  }
  return out;
}

template std::vector<std::uint64_t> read_dataset(hid_t, const std::string&, const std::string&, hid_t,
                                                 hsize_t, std::int64_t);
template std::vector<std::int32_t> read_dataset(hid_t, const std::string&, const std::string&, hid_t, hsize_t,
                                                std::int64_t);
template std::vector<float> read_dataset(hid_t, const std::string&, const std::string&, hid_t, hsize_t,
                                         std::int64_t);
template std::vector<std::uint8_t> read_dataset(hid_t, const std::string&, const std::string&, hid_t, hsize_t,
                                                std::int64_t);
template std::vector<char*> read_dataset(hid_t, const std::string&, const std::string&, hid_t, hsize_t,
                                         std::int64_t);

void check_stored(hid_t ds, const std::string& file, const std::string& path, std::uint64_t elements) {
  if (elements == 0) return;
  Hid type(C2AM_H5_CHECK(H5Dget_type(ds), file, "get the type of " + path), H5Tclose);
  const std::size_t element_size = H5Tget_size(type);
  const hsize_t stored = H5Dget_storage_size(ds);  // 0 on error as well as when nothing is stored
  if (element_size == 0 || elements > stored / element_size)
    throw Error(fmt::format("{}: dataset '{}' claims {} elements of {} bytes but the file stores {} bytes for it "
                            "(damaged)",
                            file, path, elements, element_size, stored));
}

std::vector<std::uint8_t> read_bytes(hid_t ds, std::string_view where, std::uint64_t begin,
                                     std::uint64_t end) {
  std::vector<std::uint8_t> out(end - begin);
  if (out.empty()) return out;
  Hid space(C2AM_H5_CHECK(H5Dget_space(ds), where, "get dataspace"), H5Sclose);
  const hsize_t start[1] = {begin}, count[1] = {end - begin};
  C2AM_H5_CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr), where,
                "select a byte range");
  Hid mem(C2AM_H5_CHECK(H5Screate_simple(1, count, nullptr), where, "create memory space"), H5Sclose);
  C2AM_H5_CHECK(H5Dread(ds, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, out.data()), where, "read bytes");
  return out;
}

Hid utf8_vlen_type(const std::string& file) {
  Hid str(C2AM_H5_CHECK(H5Tcopy(H5T_C_S1), file, "copy string type"), H5Tclose);
  C2AM_H5_CHECK(H5Tset_size(str, H5T_VARIABLE), file, "make a variable-length string type");
  C2AM_H5_CHECK(H5Tset_cset(str, H5T_CSET_UTF8), file, "set charset");
  return str;
}

Hid float16_type(const std::string& file) {
  Hid half(C2AM_H5_CHECK(H5Tcopy(H5T_IEEE_F32LE), file, "copy float type"), H5Tclose);
  // Fields first: a 2-byte size would cut the float32 fields off.
  C2AM_H5_CHECK(H5Tset_fields(half, 15, 10, 5, 0, 10), file, "set float16 fields");
  C2AM_H5_CHECK(H5Tset_size(half, 2), file, "set float16 size");
  C2AM_H5_CHECK(H5Tset_ebias(half, 15), file, "set float16 exponent bias");
  return half;
}

void read_floats(hid_t ds, std::string_view where, std::vector<float>& out) {
  if (out.empty()) return;
  Hid type(check(H5Dget_type(ds), where, "get the dataset's type", __FILE__, __LINE__), H5Tclose);
  Hid half = float16_type(std::string(where));
  if (check(H5Tequal(type, half), where, "compare the dataset's type", __FILE__, __LINE__) > 0) {
    std::vector<std::uint16_t> halves(out.size());
    check(H5Dread(ds, half, H5S_ALL, H5S_ALL, H5P_DEFAULT, halves.data()), where, "read the dataset", __FILE__,
          __LINE__);
    std::transform(halves.begin(), halves.end(), out.begin(), util::half_to_float);
  } else {  // float32 / float64: HDF5's conversions to float are right
    check(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), where, "read the dataset",
          __FILE__, __LINE__);
  }
}

namespace {

// An in-memory (core driver) file without object times; its image lives where
// `callbacks` put it (HDF5's own malloc'd buffer when null).
Hid create_core_file(const std::string& name, std::size_t increment, H5FD_file_image_callbacks_t* callbacks) {
  Hid fapl(C2AM_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), name, "create file access list"), H5Pclose);
  C2AM_H5_CHECK(H5Pset_fapl_core(fapl, increment, /*backing_store=*/0), name, "select the in-memory driver");
  if (callbacks != nullptr)
    C2AM_H5_CHECK(H5Pset_file_image_callbacks(fapl, callbacks), name,
                  "set the image callbacks");
  Hid fcpl(C2AM_H5_CHECK(H5Pcreate(H5P_FILE_CREATE), name, "create file creation list"), H5Pclose);
  C2AM_H5_CHECK(H5Pset_obj_track_times(fcpl, 0), name, "turn off object times");  // the root group's
  return Hid(C2AM_H5_CHECK(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, fcpl, fapl), name, "create file"),
             H5Fclose);
}

}  // namespace

Hid create_memory_file(const std::string& name, std::size_t increment) {
  return create_core_file(name, increment, nullptr);
}

namespace {

// The calling thread's image buffer for create_reusable_memory_file: the core
// driver's allocation callbacks hand it out and take it back, never free it.
struct ImageArena {
  unsigned char* data = nullptr;
  std::size_t capacity = 0;
  bool in_use = false;
};

ImageArena& arena() {
  thread_local ImageArena a;
  return a;
}

// Grows (never shrinks) the arena to `size` bytes, keeping its contents.
void* arena_realloc(void* ptr, std::size_t size, H5FD_file_image_op_t /*op*/, void* udata) {
  auto& a = *static_cast<ImageArena*>(udata);
  if (ptr == nullptr) {  // a new file's first allocation
    if (a.in_use) return nullptr;  // a second open file in this thread: HDF5 reports no memory
    a.in_use = true;
  } else if (ptr != a.data) {
    return nullptr;
  }
  if (size > a.capacity) {
    auto* grown = static_cast<unsigned char*>(std::malloc(size));
    if (grown == nullptr) return nullptr;
    if (a.data != nullptr && ptr != nullptr) std::memcpy(grown, a.data, a.capacity);
    std::free(a.data);
    a.data = grown;
    a.capacity = size;
  }
  return a.data;
}

void* arena_malloc(std::size_t size, H5FD_file_image_op_t op, void* udata) {
  return arena_realloc(nullptr, size, op, udata);
}

void* arena_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t /*op*/, void* /*udata*/) {
  return std::memcpy(dest, src, size);
}

herr_t arena_free(void* ptr, H5FD_file_image_op_t /*op*/, void* udata) {
  auto& a = *static_cast<ImageArena*>(udata);
  if (ptr == a.data) a.in_use = false;  // kept for the next file
  return 0;
}

void* arena_udata_copy(void* udata) { return udata; }
herr_t arena_udata_free(void* /*udata*/) { return 0; }

}  // namespace

Hid create_reusable_memory_file(const std::string& name, std::size_t increment) {
  H5FD_file_image_callbacks_t callbacks{arena_malloc,     arena_memcpy,     arena_realloc, arena_free,
                                        arena_udata_copy, arena_udata_free, &arena()};
  return create_core_file(name, increment, &callbacks);
}

ImageView reusable_memory_file_view(hid_t file, const std::string& name) {
  C2AM_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), name, "flush");
  const ssize_t size = C2AM_H5_CHECK(H5Fget_file_image(file, nullptr, 0), name, "get the file image size");
  const ImageArena& a = arena();
  if (!a.in_use || static_cast<std::size_t>(size) > a.capacity)
    throw Error(fmt::format("{}: the in-memory file's image ({} bytes) is not in this thread's buffer", name, size));
  return ImageView{a.data, static_cast<std::size_t>(size)};
}

std::string memory_file_image(hid_t file, const std::string& name) {
  C2AM_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), name, "flush");
  const ssize_t size = C2AM_H5_CHECK(H5Fget_file_image(file, nullptr, 0), name, "get the file image size");
  std::string bytes(static_cast<size_t>(size), '\0');
  C2AM_H5_CHECK(H5Fget_file_image(file, bytes.data(), bytes.size()), name, "get the file image");
  return bytes;
}

}  // namespace c2am::data::h5
