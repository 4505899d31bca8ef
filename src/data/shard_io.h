// Implements: the HDF5 plumbing of the packed format, private to c2am_data:
// the one check macro for HDF5 calls (C2AM_H5_CHECK), the process-wide lock
// that serialises HDF5, an owning handle, and typed attribute / dataset I/O.
// Every error names the file (or "file[index] (name)") it concerns.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace c2am::data::h5 {

// Throws c2am::Error "<where>: HDF5 <what> failed [<src>:<line>]: <HDF5 error stack>".
[[noreturn]] void fail(std::string_view where, std::string_view what, const char* src, int line);

template <typename T>
T check(T result, std::string_view where, std::string_view what, const char* src, int line) {
  if (result < 0) fail(where, what, src, line);
  return result;
}

// The one check for HDF5 calls: a negative result (hid_t, herr_t, htri_t, int)
// throws naming the file, the operation, this source line and HDF5's error stack.
#define C2AM_H5_CHECK(expr, where, what) ::c2am::data::h5::check((expr), (where), (what), __FILE__, __LINE__)

// Holds the process-wide HDF5 lock and switches HDF5's automatic error
// printing off for the calling thread (in a thread-safe build that setting is
// per thread). Every HDF5 call of c2am runs under one.
class Lock {
 public:
  Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  std::lock_guard<std::mutex> guard_;
};

// Owns an HDF5 identifier and closes it with the matching H5?close.
class Hid {
 public:
  Hid() : id_(-1), close_(nullptr) {}
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() { reset(); }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept;
  operator hid_t() const { return id_; }  // NOLINT(google-explicit-constructor): passed to HDF5 calls
  bool valid() const { return id_ >= 0; }
  void reset();
  // Closes now and throws on failure (the close of a file being written flushes it).
  void close_checked(std::string_view where, std::string_view what);

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

Hid open_dataset(hid_t loc, const std::string& file, const std::string& path, hid_t dapl = H5P_DEFAULT);
bool exists(hid_t loc, const std::string& file, const std::string& path);

// Root attributes: variable-length UTF-8 strings (write_attr; shard format 1,
// the CAM and map stores), fixed-length UTF-8 strings (write_attr_fixed;
// shard format 2: nothing for a damaged file to point into libhdf5's global
// heap) and int64 scalars.
void write_attr(hid_t loc, const std::string& file, const char* name, const std::string& value);
void write_attr_fixed(hid_t loc, const std::string& file, const char* name, const std::string& value);
void write_attr(hid_t loc, const std::string& file, const char* name, std::int64_t value);
// Readers accept fixed-length strings (of at most kMaxAttrStringBytes) and,
// where allow_variable, variable-length ones; a missing attribute is
// "<file>: not a c2am shard (no attribute '<name>')".
inline constexpr std::size_t kMaxAttrStringBytes = 1 << 16;
std::string read_attr_string(hid_t loc, const std::string& file, const char* name, bool allow_variable = true);
std::int64_t read_attr_int(hid_t loc, const std::string& file, const char* name);

// Writes rows × columns values (rank 1 when columns == 1); chunk_rows > 0: chunked.
void write_dataset(hid_t loc, const std::string& file, const char* name, hid_t type, const void* data,
                   hsize_t rows, hsize_t columns = 1, hsize_t chunk_rows = 0);

// The dimensions of a dataset of rank 1 or 2 (rank 1 reported as {n, 1}).
struct Shape {
  int rank = 0;
  hsize_t rows = 0, columns = 1;
};
Shape dataset_shape(hid_t ds, const std::string& file, const std::string& path);

// Reads a whole dataset of `columns` columns; with rows >= 0 its row count
// must match. Errors name the file and dataset.
template <typename T>
std::vector<T> read_dataset(hid_t file_id, const std::string& file, const std::string& path, hid_t mem_type,
                            hsize_t columns = 1, std::int64_t rows = -1);

// Refuses a dataset that claims more elements than the file stores for it
// (`elements` of the dataset's own type): a damaged header must not make a
// reader allocate (and read fill values into) memory no file backs.
void check_stored(hid_t ds, const std::string& file, const std::string& path, std::uint64_t elements);

// Reads elements [begin, end) of a 1-D uint8 dataset by hyperslab.
std::vector<std::uint8_t> read_bytes(hid_t ds, std::string_view where, std::uint64_t begin,
                                     std::uint64_t end);

// A variable-length UTF-8 string type (h5py: str / bytes, dtype object).
Hid utf8_vlen_type(const std::string& file);

// IEEE 754 half precision, little-endian: the type h5py and numpy call
// float16 (a copy of H5T_IEEE_F32LE with 1 sign, 5 exponent and 10 mantissa
// bits, exponent bias 15, size 2, as h5py builds it). Use it as the file type
// AND the memory type, with the bits converted by util/half.h: HDF5 1.10's own
// float -> float16 conversion (H5T_NATIVE_FLOAT as memory type) mis-rounds
// values that round up into the next power of two after a subnormal in the
// same buffer (0.999785 -> 0.5).
Hid float16_type(const std::string& file);

// Reads a whole float dataset (float16, float32 or float64) into `out`
// (its size must be the dataset's element count). float16 is read raw and
// converted by util/half.h, not by HDF5 (see float16_type).
void read_floats(hid_t ds, std::string_view where, std::vector<float>& out);

// An HDF5 file built in memory (the core driver, no backing store), named
// `name` in messages; `increment`: bytes by which its image grows.
Hid create_memory_file(const std::string& name, std::size_t increment = std::size_t{1} << 20);
// The bytes of a file made by create_memory_file (flushed first), to be
// written with util::write_file_atomic.
std::string memory_file_image(hid_t file, const std::string& name);

// As create_memory_file, but the driver keeps the file's image in the calling
// thread's reusable buffer, which is never freed: the next such file of the
// thread reuses it, pages already mapped (a fresh 35 MB image per shard cost
// page faults, zeroing and copies: half of `c2am pack`'s time at ImageNet
// scale, docs/benchmarks.md). One such file per thread at a time; a second
// one open in the same thread fails in HDF5 (no memory for its image).
Hid create_reusable_memory_file(const std::string& name, std::size_t increment);

// The image of a file made by create_reusable_memory_file, flushed: a view of
// the driver's buffer (no copy). Close the file before using it (closing
// clears the superblock's "open for writing" flags, which H5Fget_file_image
// clears in its copy); it stays valid until the thread's next such file.
struct ImageView {
  const unsigned char* data = nullptr;
  std::size_t size = 0;
};
ImageView reusable_memory_file_view(hid_t file, const std::string& name);

}  // namespace c2am::data::h5
