// Implements: c2am's own reader of the part of the HDF5 file format that
// `c2am pack` writes (shard format 2), so that no damaged or crafted shard is
// ever parsed by libhdf5 on the read path. libhdf5 1.10.8 reads out of
// bounds, reads freed memory and allocates terabytes on some damaged object
// headers (docs/reliability.md); this reader bounds-checks every field
// against the file and refuses everything pack does not write.
//
// The subset: superblock version 0 or 1 (offsets and lengths of 8 bytes, base
// address 0), version-1 object headers with continuation blocks, groups as
// symbol tables (a version-1 B-tree of symbol-table nodes and a local heap) or
// as compact link messages, hard links only, datasets with contiguous storage,
// little-endian integers and IEEE floats, fixed-length strings, and attributes
// stored in the object header. Refused with a message naming the file and the
// object: soft, external and user-defined links, external raw storage, virtual
// datasets, shared messages, dense link or attribute storage, an object
// reached twice, any address or length outside the file. Nothing here uses
// libhdf5 or LibTorch; the parsed File is immutable and safe to share between
// threads (reads are pread calls).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c2am::data::h5subset {

// An HDF5 datatype as far as the subset needs it.
struct Type {
  enum class Class { kInteger, kFloat, kString, kVariableString, kOther };
  Class cls = Class::kOther;
  std::uint32_t size = 0;     // bytes per element
  bool is_signed = false;     // integers
  bool little_endian = true;  // integers and floats
  bool ieee = false;          // floats: the IEEE 754 layout of their size
  int raw_class = -1;         // HDF5's class number, for messages
};
std::string describe(const Type& t);  // "int32", "uint64", "float32", "string(12)", "class 6", ...

struct Dataset {
  std::string path;
  Type type;
  int rank = 0;
  std::vector<std::uint64_t> dims;
  bool contiguous = false;
  std::uint64_t address = ~std::uint64_t{0};  // contiguous: where the data starts (undefined: nothing stored)
  std::uint64_t storage = 0;                  // contiguous: bytes stored
  std::uint64_t elements() const;             // product of dims (saturating)
};

struct Attribute {
  Type type;
  std::uint64_t elements = 0;
  std::string data;  // elements * type.size bytes, as stored
};

class File {
 public:
  // Reads the file's structure. Throws c2am::Error naming `path`: not HDF5,
  // cut short, a structure outside the subset or damaged, a refused link or
  // storage.
  explicit File(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return size_; }

  // Root attributes. A missing one is "<file>: not a c2am shard (no attribute
  // '<name>')"; a string of another kind (variable-length: allow_variable
  // decides whether that is an error here; the caller then uses libhdf5, which
  // reads format 1) or an integer that is not an integer names the attribute.
  bool has_attribute(const std::string& name) const;
  std::int64_t attr_int(const std::string& name) const;
  std::string attr_string(const std::string& name, std::size_t max_bytes) const;

  // Groups and datasets by absolute path ("/images/bytes").
  bool exists(const std::string& path) const;
  const Dataset& dataset(const std::string& path) const;  // "dataset '<path>' is missing"

  // A whole dataset of `columns` columns (rank 1 when 1), of the element type
  // T (uint8, int32, uint64 or float32, as stored: no conversion); with
  // rows >= 0 its row count must match. The dataset must be stored
  // contiguously and store all its elements.
  template <typename T>
  std::vector<T> read(const std::string& path, std::uint64_t columns = 1, std::int64_t rows = -1) const;

  // Bytes [begin, end) of a contiguous 1-D uint8 dataset; `where` names the
  // sample in errors.
  std::vector<std::uint8_t> read_bytes(const Dataset& ds, std::string_view where, std::uint64_t begin,
                                       std::uint64_t end) const;

 private:
  friend struct Parser;
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::map<std::string, Attribute> root_attributes_;
  std::map<std::string, Dataset> datasets_;
  std::vector<std::string> groups_;
};

}  // namespace c2am::data::h5subset
