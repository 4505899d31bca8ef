#include "data/h5_subset.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <type_traits>

#include "util/error.h"

namespace c2am::data::h5subset {

namespace {

constexpr std::uint64_t kUndefined = ~std::uint64_t{0};
// Bounds no shard comes near (pack's object headers and heaps are a few KiB):
// a damaged length must not make the reader allocate or loop without end.
constexpr std::uint64_t kMaxBlockBytes = std::uint64_t{16} << 20;
// All structure bytes one parse may read: 4096 objects whose headers point at
// one 16 MiB block would otherwise read 64 GiB.
constexpr std::uint64_t kMaxStructureBytes = std::uint64_t{256} << 20;
constexpr int kMaxObjects = 4096;
constexpr int kMaxContinuations = 1024;
constexpr int kMaxMessages = 1 << 16;
constexpr int kMaxBtreeLevel = 16;
constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxNameBytes = 1024;
constexpr int kMaxRank = 32;

constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

// Message types (HDF5 file format specification, section IV.A.2).
enum : std::uint16_t {
  kNil = 0x00,
  kDataspace = 0x01,
  kLinkInfo = 0x02,
  kDatatype = 0x03,
  kFillOld = 0x04,
  kFill = 0x05,
  kLink = 0x06,
  kExternalFiles = 0x07,
  kLayout = 0x08,
  kGroupInfo = 0x0A,
  kFilters = 0x0B,
  kAttribute = 0x0C,
  kComment = 0x0D,
  kModifiedOld = 0x0E,
  kContinuation = 0x10,
  kSymbolTable = 0x11,
  kModified = 0x12,
  kBtreeK = 0x13,
  kAttributeInfo = 0x15,
  kRefCount = 0x16,
};

std::uint64_t le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kUndefined / a) return kUndefined;
  return a * b;
}

// A bounds-checked reader over one block of bytes; `fail` reports an overrun.
class Cursor {
 public:
  Cursor(std::string_view bytes, std::string what) : b_(bytes), what_(std::move(what)) {}
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return b_.size() - pos_; }
  std::uint64_t u(int n) {
    need(static_cast<std::size_t>(n));
    const std::uint64_t v = le(reinterpret_cast<const unsigned char*>(b_.data()) + pos_, n);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::string_view take(std::uint64_t n) {
    need(n);
    const std::string_view v = b_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  void skip(std::uint64_t n) { (void)take(n); }
  void align8(std::size_t base) {  // to the next multiple of 8 counted from `base`
    const std::size_t rel = pos_ - base;
    skip((8 - rel % 8) % 8);
  }
  const std::string& what() const { return what_; }

 private:
  void need(std::uint64_t n) const {
    if (n > left()) throw Error(fmt::format("{} ends {} bytes early", what_, n - left()));
  }
  std::string_view b_;
  std::size_t pos_ = 0;
  std::string what_;
};

struct Message {
  std::uint16_t type = 0;
  std::uint8_t flags = 0;
  std::string data;
};

Type parse_type(std::string_view bytes, const std::string& what) {
  Cursor c(bytes, what);
  const auto b0 = static_cast<unsigned>(c.u(1));
  const auto bits = static_cast<unsigned>(c.u(3));
  Type t;
  t.raw_class = static_cast<int>(b0 & 0x0f);
  const unsigned version = b0 >> 4;
  if (version < 1 || version > 4)
    throw Error(fmt::format("{}: datatype version {} is not HDF5's", what, version));
  t.size = static_cast<std::uint32_t>(c.u(4));
  switch (t.raw_class) {
    case 0: {  // fixed-point
      const auto offset = c.u(2), precision = c.u(2);
      t.little_endian = (bits & 1) == 0;
      t.is_signed = (bits & 8) != 0;
      if (offset == 0 && precision == 8u * t.size &&
          (t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8))
        t.cls = Type::Class::kInteger;
      break;
    }
    case 1: {  // floating point
      const auto offset = c.u(2), precision = c.u(2), eloc = c.u(1), esize = c.u(1), mloc = c.u(1),
                 msize = c.u(1), bias = c.u(4);
      t.little_endian = (bits & 1) == 0 && (bits & 0x40) == 0;
      const unsigned sign = (bits >> 8) & 0xff, norm = (bits >> 4) & 3;
      t.cls = Type::Class::kFloat;
      t.ieee = offset == 0 && precision == 8u * t.size && mloc == 0 && norm == 2 &&
               ((t.size == 4 && eloc == 23 && esize == 8 && msize == 23 && bias == 127 && sign == 31) ||
                (t.size == 8 && eloc == 52 && esize == 11 && msize == 52 && bias == 1023 && sign == 63));
      break;
    }
    case 3:  // fixed-length string
      t.cls = Type::Class::kString;
      break;
    case 9:  // variable-length: a sequence or a string
      if ((bits & 0x0f) == 1) t.cls = Type::Class::kVariableString;
      break;
    default:
      break;
  }
  return t;
}

// Dimensions of a dataspace message (version 1 or 2); scalar = rank 0, null = no elements.
struct Space {
  int rank = 0;
  bool null = false;
  std::vector<std::uint64_t> dims;
};

Space parse_space(std::string_view bytes, const std::string& what) {
  Cursor c(bytes, what);
  const auto version = c.u(1);
  Space s;
  s.rank = static_cast<int>(c.u(1));
  const auto flags = c.u(1);
  if (version == 1) {
    c.skip(5);
  } else if (version == 2) {
    const auto kind = c.u(1);
    if (kind > 2) throw Error(fmt::format("{}: dataspace type {} is not HDF5's", what, kind));
    s.null = kind == 2;
  } else {
    throw Error(fmt::format("{}: dataspace version {} is not HDF5's", what, version));
  }
  if (s.rank > kMaxRank)
    throw Error(fmt::format("{}: dataspace of rank {} (HDF5 allows {})", what, s.rank, kMaxRank));
  for (int i = 0; i < s.rank; ++i) s.dims.push_back(c.u(8));
  (void)flags;  // maximum dimensions and permutations follow; nothing here uses them
  return s;
}

std::uint64_t element_count(const Space& s) {
  if (s.null) return 0;
  std::uint64_t n = 1;
  for (const std::uint64_t d : s.dims) n = saturating_mul(n, d);
  return n;
}

bool valid_link_name(std::string_view n) {
  return !n.empty() && n.size() <= kMaxNameBytes && n != "." && n != ".." &&
         n.find('/') == std::string_view::npos && n.find('\0') == std::string_view::npos;
}

std::string join(const std::string& group, std::string_view name) {
  return group == "/" ? "/" + std::string(name) : group + "/" + std::string(name);
}

constexpr const char* kSelfContained =
    "refused (a shard must be self-contained: no links to other objects or files)";

}  // namespace

struct Parser {
  File& f;
  std::set<std::uint64_t> objects_seen, nodes_seen;
  int objects = 0;
  std::uint64_t structure_bytes = 0;

  [[noreturn]] void fail(std::string_view what) const {
    throw Error(fmt::format("{}: {} (damaged, or not written by c2am pack)", f.path_, what));
  }

  std::string read_at(std::uint64_t address, std::uint64_t length, std::string_view what) {
    if (address == kUndefined || address > f.size_ || length > f.size_ - address)
      fail(fmt::format("{} at byte {} ({} bytes) lies outside the {}-byte file", what, address, length,
                       f.size_));
    if (length > kMaxBlockBytes)
      fail(fmt::format("{} at byte {} claims {} bytes (at most {})", what, address, length, kMaxBlockBytes));
    structure_bytes += length;
    if (structure_bytes > kMaxStructureBytes)
      fail(
          fmt::format("its structure makes the reader read over {} bytes (at {})", kMaxStructureBytes, what));
    std::string out(static_cast<std::size_t>(length), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t got =
          ::pread(f.fd_, out.data() + done, out.size() - done, static_cast<off_t>(address + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw_errno("cannot read shard", f.path_);
      if (got == 0) fail(fmt::format("{} at byte {} is cut short", what, address));
      done += static_cast<std::size_t>(got);
    }
    return out;
  }

  // Wraps a Cursor overrun ("<what> ends N bytes early") as this file's error.
  template <typename Fn>
  auto guarded(Fn&& fn) -> decltype(fn()) {
    try {
      return fn();
    } catch (const IoError&) {
      throw;
    } catch (const Error& e) {
      if (std::string_view(e.what()).substr(0, f.path_.size()) == f.path_) throw;
      fail(e.what());
    }
  }

  std::uint64_t superblock() {
    if (f.size_ < 8) fail("not an HDF5 file (shorter than HDF5's signature)");
    const std::string head = read_at(0, std::min<std::uint64_t>(f.size_, 96 + 4), "the superblock");
    if (std::memcmp(head.data(), kSignature, 8) != 0)
      throw Error(fmt::format("{}: not an HDF5 file (not a c2am shard, or damaged at its start)", f.path_));
    return guarded([&] {
      Cursor c(head, "the superblock");
      c.skip(8);
      const auto version = c.u(1);
      if (version > 1) fail(fmt::format("superblock version {} (c2am pack writes version 0)", version));
      c.skip(3);  // free space, root group symbol table and shared header message versions
      c.skip(1);
      const auto offsets = c.u(1), lengths = c.u(1);
      if (offsets != 8 || lengths != 8)
        fail(fmt::format("addresses of {} and lengths of {} bytes (c2am pack writes 8 and 8)", offsets,
                         lengths));
      c.skip(1 + 2 + 2 + 4);  // reserved, group K values, consistency flags
      if (version == 1) c.skip(4);
      const auto base = c.u(8);
      c.skip(8);  // free-space info
      const auto end = c.u(8);
      c.skip(8);  // driver info
      if (base != 0) fail(fmt::format("base address {} (c2am pack writes 0)", base));
      if (end > f.size_)
        throw Error(fmt::format("{}: the file is cut short: its superblock says {} bytes, it has {}", f.path_,
                                end, f.size_));
      c.skip(8);  // root entry: name offset
      return c.u(8);
    });
  }

  // The messages of the version-1 object header at `address`, continuation
  // blocks followed.
  std::vector<Message> object_header(std::uint64_t address, const std::string& path) {
    const std::string what = fmt::format("the object header of '{}'", path);
    const std::string prefix = read_at(address, 16, what);
    if (prefix.compare(0, 4, "OHDR") == 0)
      fail(fmt::format("{} is of version 2 (c2am pack writes version 1)", what));
    std::vector<Message> out;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;
    guarded([&] {
      Cursor c(prefix, what);
      const auto version = c.u(1);
      if (version != 1) fail(fmt::format("{} has version {}", what, version));
      c.skip(1 + 2 + 4);  // reserved, message count, reference count
      blocks.emplace_back(address + 16, c.u(4));
      return 0;
    });
    std::set<std::uint64_t> seen;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (blocks.size() > kMaxContinuations)
        fail(fmt::format("{} has over {} continuation blocks", what, kMaxContinuations));
      if (!seen.insert(blocks[b].first).second) fail(fmt::format("{} continues into itself", what));
      const std::string block = read_at(blocks[b].first, blocks[b].second, what);
      guarded([&] {
        Cursor c(block, what);
        while (c.left() >= 8) {
          Message m;
          m.type = static_cast<std::uint16_t>(c.u(2));
          const auto size = c.u(2);
          m.flags = static_cast<std::uint8_t>(c.u(1));
          c.skip(3);
          m.data = std::string(c.take(size));
          if (out.size() >= kMaxMessages) fail(fmt::format("{} has over {} messages", what, kMaxMessages));
          if (m.type == kContinuation) {
            Cursor cc(m.data, what + "'s continuation message");
            const auto at = cc.u(8);
            blocks.emplace_back(at, cc.u(8));
          }
          if ((m.flags & 0x02) != 0 && m.type != kNil)
            fail(fmt::format("{} holds a shared message (type {:#x}), which c2am pack does not write", what,
                             m.type));
          out.push_back(std::move(m));
        }
        return 0;
      });
    }
    return out;
  }

  // A local heap's data segment.
  std::string local_heap(std::uint64_t address, const std::string& what) {
    const std::string head = read_at(address, 32, what);
    if (head.compare(0, 4, "HEAP") != 0)
      fail(fmt::format("{} at byte {} is not a local heap", what, address));
    return guarded([&] {
      Cursor c(head, what);
      c.skip(8);  // signature, version, reserved
      const auto size = c.u(8);
      c.skip(8);  // free list
      return read_at(c.u(8), size, what);
    });
  }

  std::string heap_string(const std::string& heap, std::uint64_t offset, const std::string& what) const {
    if (offset >= heap.size())
      fail(fmt::format("{}: name offset {} outside its heap of {} bytes", what, offset, heap.size()));
    const std::size_t end = heap.find('\0', static_cast<std::size_t>(offset));
    if (end == std::string::npos) fail(fmt::format("{}: a name without its terminating NUL", what));
    return heap.substr(static_cast<std::size_t>(offset), end - static_cast<std::size_t>(offset));
  }

  // One link of a group: a hard link is followed, anything else refused.
  void link_entry(const std::string& group, const std::string& name, std::uint64_t target,
                  std::vector<std::pair<std::string, std::uint64_t>>& children) {
    if (!valid_link_name(name))
      fail(fmt::format("group '{}' holds a link with an invalid name '{}'", group, name.substr(0, 64)));
    for (const auto& c : children)
      if (c.first == name) fail(fmt::format("group '{}' holds two links named '{}'", group, name));
    children.emplace_back(name, target);
  }

  // Old-style group: a version-1 B-tree over symbol-table nodes, names in a local heap.
  void btree(std::uint64_t address, int level, const std::string& heap, const std::string& group,
             std::vector<std::pair<std::string, std::uint64_t>>& children) {
    const std::string what = fmt::format("the B-tree of group '{}'", group);
    if (!nodes_seen.insert(address).second) fail(fmt::format("{} reaches node {} twice", what, address));
    const std::string head = read_at(address, 24, what);
    if (head.compare(0, 4, "TREE") != 0) fail(fmt::format("{}: byte {} is not a B-tree node", what, address));
    const auto type = static_cast<unsigned char>(head[4]);
    const auto node_level = static_cast<unsigned char>(head[5]);
    const auto entries = le(reinterpret_cast<const unsigned char*>(head.data()) + 6, 2);
    if (type != 0) fail(fmt::format("{}: node of type {} (a group's is 0)", what, type));
    if (level >= 0 && node_level != level)
      fail(fmt::format("{}: node of level {} where {} was due", what, node_level, level));
    if (node_level > kMaxBtreeLevel) fail(fmt::format("{}: level {}", what, node_level));
    const std::string body = read_at(address + 24, 8 + entries * 16, what);
    std::vector<std::uint64_t> kids;
    guarded([&] {
      Cursor c(body, what);
      for (std::uint64_t i = 0; i < entries; ++i) {
        c.skip(8);  // key: a heap offset
        kids.push_back(c.u(8));
      }
      return 0;
    });
    for (const std::uint64_t kid : kids) {
      if (node_level > 0) {
        btree(kid, node_level - 1, heap, group, children);
      } else {
        symbol_node(kid, heap, group, children);
      }
    }
  }

  void symbol_node(std::uint64_t address, const std::string& heap, const std::string& group,
                   std::vector<std::pair<std::string, std::uint64_t>>& children) {
    const std::string what = fmt::format("a symbol table node of group '{}'", group);
    if (!nodes_seen.insert(address).second) fail(fmt::format("{} is reached twice (byte {})", what, address));
    const std::string head = read_at(address, 8, what);
    if (head.compare(0, 4, "SNOD") != 0)
      fail(fmt::format("{}: byte {} is not a symbol table node", what, address));
    const auto count = le(reinterpret_cast<const unsigned char*>(head.data()) + 6, 2);
    const std::string body = read_at(address + 8, count * 40, what);
    Cursor c(body, what);
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto name_offset = c.u(8), target = c.u(8), cache = c.u(4);
      c.skip(4 + 16);
      const std::string name = heap_string(heap, name_offset, what);
      if (cache == 2) fail_link(fmt::format("'{}' is a soft link", join(group, name)));
      if (cache > 2) fail(fmt::format("{}: link '{}' of cache type {}", what, name, cache));
      link_entry(group, name, target, children);
    }
  }

  [[noreturn]] void fail_link(const std::string& problem) const {
    throw Error(fmt::format("{}: {}: {}", f.path_, problem, kSelfContained));
  }

  // A link message of a new-style group (hard links only).
  void link_message(const Message& m, const std::string& group,
                    std::vector<std::pair<std::string, std::uint64_t>>& children) {
    const std::string what = fmt::format("a link of group '{}'", group);
    Cursor c(m.data, what);
    const auto version = c.u(1);
    if (version != 1) fail(fmt::format("{} has version {}", what, version));
    const auto flags = c.u(1);
    const auto type = (flags & 0x08) != 0 ? c.u(1) : 0;
    if ((flags & 0x04) != 0) c.skip(8);  // creation order
    if ((flags & 0x10) != 0) c.skip(1);  // name charset
    const auto name_length = c.u(1 << (flags & 3));
    const std::string name(c.take(name_length));
    const std::string path = join(group, name);
    if (type == 0) {
      link_entry(group, name, c.u(8), children);
    } else if (type == 1) {
      fail_link(fmt::format("'{}' is a soft link", path));
    } else if (type == 64) {
      const auto length = c.u(2);
      const std::string_view value = c.take(length);
      std::string target_file = "?", target_object = "?";
      if (value.size() >= 2) {
        const std::string_view rest = value.substr(1);
        const std::size_t nul = rest.find('\0');
        if (nul != std::string_view::npos) {
          target_file = std::string(rest.substr(0, nul));
          const std::string_view obj = rest.substr(nul + 1);
          target_object = std::string(obj.substr(0, obj.find('\0')));
        }
      }
      fail_link(
          fmt::format("'{}' is an external link to '{}' in file '{}'", path, target_object, target_file));
    } else {
      fail_link(fmt::format("'{}' is a user-defined link (type {})", path, type));
    }
  }

  void external_files(const Message& m, const std::string& path) {
    std::size_t used = 0;
    std::string first = "?";
    try {
      Cursor c(m.data, "");
      c.skip(4 + 2);
      used = static_cast<std::size_t>(c.u(2));
      const auto heap_address = c.u(8);
      const auto name_offset = c.u(8);
      first = heap_string(local_heap(heap_address, "external files"), name_offset, "external files");
    } catch (const Error&) {
    }
    throw Error(
        fmt::format("{}: dataset '{}' stores its data in {} external file(s) (first '{}'): refused (a shard "
                    "must be self-contained)",
                    f.path_, path, used, first));
  }

  // A link-info or attribute-info message: version, flags, an optional field
  // of `optional_bytes` (flag bit 0), then the fractal heap's address, which
  // is undefined unless the links or attributes are stored densely.
  void refuse_dense(const Message& m, const std::string& where, int optional_bytes, const std::string& what) {
    guarded([&] {
      Cursor c(m.data, where);
      c.skip(1);
      if ((c.u(1) & 1) != 0) c.skip(static_cast<std::uint64_t>(optional_bytes));
      if (c.u(8) != kUndefined) fail(what + " (c2am pack does not)");
      return 0;
    });
  }

  void object(std::uint64_t address, const std::string& path, int depth) {
    if (++objects > kMaxObjects) fail(fmt::format("more than {} objects", kMaxObjects));
    if (depth > kMaxDepth) fail(fmt::format("'{}' is nested over {} groups deep", path, kMaxDepth));
    if (!objects_seen.insert(address).second)
      fail(fmt::format(
          "'{}' is a second name of an object already reached (c2am pack writes one name per object)", path));
    const std::vector<Message> messages = object_header(address, path);
    const std::string where = fmt::format("the object header of '{}'", path);
    const Message* space = nullptr;
    const Message* type = nullptr;
    const Message* layout = nullptr;
    const Message* symbols = nullptr;
    bool new_group = false, filtered = false;
    std::vector<std::pair<std::string, std::uint64_t>> children;
    std::vector<const Message*> attributes;
    for (const Message& m : messages) {
      switch (m.type) {
        case kNil:
        case kFillOld:
        case kFill:
        case kGroupInfo:
        case kComment:
        case kModifiedOld:
        case kContinuation:
        case kModified:
        case kBtreeK:
        case kRefCount:
          break;
        case kDataspace:
          space = &m;
          break;
        case kDatatype:
          type = &m;
          break;
        case kLayout:
          layout = &m;
          break;
        case kSymbolTable:
          symbols = &m;
          break;
        case kFilters:
          filtered = true;
          break;
        case kAttribute:
          attributes.push_back(&m);
          break;
        case kExternalFiles:
          external_files(m, path);
          break;
        case kLinkInfo:
          new_group = true;
          refuse_dense(m, where, 8, fmt::format("group '{}' stores its links densely", path));
          break;
        case kLink:
          new_group = true;
          guarded([&] {
            link_message(m, path, children);
            return 0;
          });
          break;
        case kAttributeInfo:
          refuse_dense(m, where, 2, fmt::format("'{}' stores its attributes densely", path));
          break;
        default:
          fail(
              fmt::format("{} holds a message of type {:#x}, which c2am pack does not write", where, m.type));
      }
    }
    if (depth == 0) {
      for (const Message* a : attributes) root_attribute(*a);
    }
    if (symbols != nullptr || new_group) {
      if (layout != nullptr) fail(fmt::format("'{}' is both a group and a dataset", path));
      if (symbols != nullptr) {
        guarded([&] {
          Cursor c(symbols->data, where);
          const auto tree = c.u(8);
          const std::string heap = local_heap(c.u(8), fmt::format("the name heap of group '{}'", path));
          btree(tree, -1, heap, path, children);
          return 0;
        });
      }
      f.groups_.push_back(path);
      for (const auto& [name, target] : children) object(target, join(path, name), depth + 1);
      return;
    }
    if (depth == 0) fail("the root object is not a group");
    if (layout == nullptr || space == nullptr || type == nullptr)
      fail(fmt::format("'{}' is neither a group nor a dataset", path));
    Dataset ds;
    ds.path = path;
    guarded([&] {
      ds.type = parse_type(type->data, fmt::format("the datatype of '{}'", path));
      const Space s = parse_space(space->data, fmt::format("the dataspace of '{}'", path));
      ds.rank = s.rank;
      ds.dims = s.null ? std::vector<std::uint64_t>(static_cast<std::size_t>(s.rank), 0) : s.dims;
      Cursor c(layout->data, fmt::format("the data layout of '{}'", path));
      const auto version = c.u(1);
      if (version != 3 && version != 4)
        fail(fmt::format("'{}': data layout message version {} (c2am pack writes version 3)", path, version));
      const auto layout_class = c.u(1);
      if (layout_class == 3)
        throw Error(
            fmt::format("{}: dataset '{}' is a virtual dataset (its data lives in other files): refused (a "
                        "shard must be self-contained)",
                        f.path_, path));
      if (layout_class == 1) {
        ds.contiguous = !filtered;
        ds.address = c.u(8);
        ds.storage = c.u(8);
        if (ds.address != kUndefined && (ds.address > f.size_ || ds.storage > f.size_ - ds.address))
          throw Error(
              fmt::format("{}: dataset '{}' claims {} bytes at byte {}, beyond the end of the {}-byte file "
                          "(cut short or damaged)",
                          f.path_, path, ds.storage, ds.address, f.size_));
        if (ds.address == kUndefined) ds.storage = 0;
      }
      return 0;
    });
    f.datasets_.emplace(path, std::move(ds));
  }

  void root_attribute(const Message& m) {
    guarded([&] {
      Cursor c(m.data, "a root attribute");
      const auto version = c.u(1);
      if (version < 1 || version > 3) fail(fmt::format("a root attribute of version {}", version));
      const auto flags = c.u(1);
      if (version >= 2 && (flags & 3) != 0) fail("a root attribute with a shared datatype or dataspace");
      const auto name_size = c.u(2), type_size = c.u(2), space_size = c.u(2);
      if (version == 3) c.skip(1);
      const std::size_t base = c.pos();
      const std::string_view raw_name = c.take(name_size);
      if (version == 1) c.align8(base);
      const std::string name(raw_name.substr(0, raw_name.find('\0')));
      const std::string what = fmt::format("root attribute '{}'", name.substr(0, 64));
      if (name.empty() || name.size() > kMaxNameBytes) fail(fmt::format("{}: invalid name", what));
      const std::size_t tbase = c.pos();
      Attribute a;
      a.type = parse_type(c.take(type_size), "the type of " + what);
      if (version == 1) c.align8(tbase);
      const std::size_t sbase = c.pos();
      const Space s = parse_space(c.take(space_size), "the dataspace of " + what);
      if (version == 1) c.align8(sbase);
      a.elements = element_count(s);
      const std::uint64_t bytes = saturating_mul(a.elements, a.type.size);
      if (a.type.cls != Type::Class::kVariableString) {
        if (bytes > c.left())
          fail(fmt::format("{} stores fewer bytes ({}) than its {} elements of {} bytes", what, c.left(),
                           a.elements, a.type.size));
        a.data = std::string(c.take(bytes));
      }
      if (!f.root_attributes_.emplace(name, std::move(a)).second)
        fail(fmt::format("two root attributes named '{}'", name));
      return 0;
    });
  }
};

std::uint64_t Dataset::elements() const {
  std::uint64_t n = 1;
  for (const std::uint64_t d : dims) n = saturating_mul(n, d);
  return n;
}

std::string describe(const Type& t) {
  switch (t.cls) {
    case Type::Class::kInteger:
      return fmt::format("{}int{}{}", t.is_signed ? "" : "u", 8 * t.size,
                         t.little_endian ? "" : " big-endian");
    case Type::Class::kFloat:
      return fmt::format("float{}{}{}", 8 * t.size, t.ieee ? "" : " (not IEEE)",
                         t.little_endian ? "" : " big-endian");
    case Type::Class::kString:
      return fmt::format("string({})", t.size);
    case Type::Class::kVariableString:
      return "variable-length string";
    case Type::Class::kOther:
      break;
  }
  return fmt::format("HDF5 class {} of {} bytes", t.raw_class, t.size);
}

File::File(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_errno("cannot open shard", path);
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_errno("cannot size shard", path);
    size_ = static_cast<std::uint64_t>(st.st_size);
    Parser p{*this, {}, {}, 0, 0};
    const std::uint64_t root = p.superblock();
    p.object(root, "/", 0);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

bool File::has_attribute(const std::string& name) const { return root_attributes_.count(name) != 0; }

namespace {
const Attribute& find_attribute(const std::map<std::string, Attribute>& attrs, const std::string& file,
                                const std::string& name) {
  const auto it = attrs.find(name);
  if (it == attrs.end()) throw Error(fmt::format("{}: not a c2am shard (no attribute '{}')", file, name));
  return it->second;
}
}  // namespace

std::int64_t File::attr_int(const std::string& name) const {
  const Attribute& a = find_attribute(root_attributes_, path_, name);
  if (a.type.cls != Type::Class::kInteger || !a.type.little_endian || a.elements != 1)
    throw Error(fmt::format("{}: attribute '{}' is not an integer ({}, {} elements)", path_, name,
                            describe(a.type), a.elements));
  const auto* p = reinterpret_cast<const unsigned char*>(a.data.data());
  const std::uint64_t raw = le(p, static_cast<int>(a.type.size));
  if (!a.type.is_signed) {
    if (raw > static_cast<std::uint64_t>(INT64_MAX))
      throw Error(fmt::format("{}: attribute '{}' is {}, beyond int64", path_, name, raw));
    return static_cast<std::int64_t>(raw);
  }
  const unsigned bits = 8 * a.type.size;
  if (bits == 64) return static_cast<std::int64_t>(raw);
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  return static_cast<std::int64_t>((raw ^ sign)) - static_cast<std::int64_t>(sign);
}

std::string File::attr_string(const std::string& name, std::size_t max_bytes) const {
  const Attribute& a = find_attribute(root_attributes_, path_, name);
  if (a.type.cls == Type::Class::kVariableString)
    throw Error(
        fmt::format("{}: attribute '{}' is a variable-length string, which this shard format does not use "
                    "(damaged or forged file)",
                    path_, name));
  if (a.type.cls != Type::Class::kString)
    throw Error(fmt::format("{}: attribute '{}' is not a string", path_, name));
  if (a.elements != 1) throw Error(fmt::format("{}: attribute '{}' is not a single string", path_, name));
  if (a.type.size == 0 || a.type.size > max_bytes)
    throw Error(fmt::format("{}: attribute '{}' claims a {}-byte string (at most {}): damaged", path_, name,
                            a.type.size, max_bytes));
  return a.data.substr(0, a.data.find('\0'));
}

bool File::exists(const std::string& path) const {
  return datasets_.count(path) != 0 || std::find(groups_.begin(), groups_.end(), path) != groups_.end();
}

const Dataset& File::dataset(const std::string& path) const {
  const auto it = datasets_.find(path);
  if (it == datasets_.end()) {
    if (exists(path)) throw Error(fmt::format("{}: '{}' is a group, not a dataset", path_, path));
    throw Error(fmt::format("{}: dataset '{}' is missing", path_, path));
  }
  return it->second;
}

namespace {

template <typename T>
bool stored_as(const Type& t) {
  if constexpr (std::is_same_v<T, float>) {
    return t.cls == Type::Class::kFloat && t.size == 4 && t.ieee && t.little_endian;
  } else {
    return t.cls == Type::Class::kInteger && t.size == sizeof(T) && t.is_signed == std::is_signed_v<T> &&
           t.little_endian;
  }
}

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::uint64_t>) return "uint64";
  return "?";
}

void pread_all(int fd, const std::string& file, std::string_view where, void* out, std::uint64_t size,
               std::uint64_t at) {
  auto* p = static_cast<char*>(out);
  std::uint64_t done = 0;
  while (done < size) {
    const ssize_t got =
        ::pread(fd, p + done, static_cast<std::size_t>(size - done), static_cast<off_t>(at + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno(fmt::format("{}: cannot read", where), file);
    if (got == 0)
      throw Error(fmt::format("{}: the file ends before the bytes the shard lists (cut short)", where));
    done += static_cast<std::uint64_t>(got);
  }
}

// The dataset's data, as stored, holds `elements` elements.
void check_contiguous(const Dataset& ds, const std::string& file, std::uint64_t elements) {
  if (!ds.contiguous)
    throw Error(
        fmt::format("{}: dataset '{}' is not stored contiguously, as format 2 stores it (damaged or forged)",
                    file, ds.path));
  if (elements == 0) return;
  if (ds.type.size == 0 || elements > ds.storage / ds.type.size)
    throw Error(
        fmt::format("{}: dataset '{}' claims {} elements of {} bytes but the file stores {} bytes for it "
                    "(damaged)",
                    file, ds.path, elements, ds.type.size, ds.storage));
}

}  // namespace

template <typename T>
std::vector<T> File::read(const std::string& path, std::uint64_t columns, std::int64_t rows) const {
  const Dataset& ds = dataset(path);
  const int want_rank = columns == 1 ? 1 : 2;
  const std::uint64_t have_rows = ds.rank >= 1 ? ds.dims[0] : 1;
  const std::uint64_t have_columns = ds.rank == 2 ? ds.dims[1] : 1;
  if (ds.rank != want_rank || have_columns != columns ||
      (rows >= 0 && have_rows != static_cast<std::uint64_t>(rows))) {
    std::string have;
    for (std::size_t i = 0; i < ds.dims.size(); ++i)
      have += fmt::format("{}{}", i == 0 ? "" : ", ", ds.dims[i]);
    have = ds.rank == 1 ? "(" + have + ",)" : "(" + have + ")";
    const std::string n = rows >= 0 ? std::to_string(rows) : "n";
    const std::string want = columns == 1 ? fmt::format("({},)", n) : fmt::format("({}, {})", n, columns);
    throw Error(fmt::format("{}: dataset '{}' has shape {}, expected {}", path_, path, have, want));
  }
  if (!stored_as<T>(ds.type))
    throw Error(fmt::format("{}: dataset '{}' is of type {}, format 2 stores {} (damaged or forged)", path_,
                            path, describe(ds.type), type_name<T>()));
  const std::uint64_t elements = ds.elements();
  check_contiguous(ds, path_, elements);
  std::vector<T> out(static_cast<std::size_t>(elements));
  if (elements > 0) pread_all(fd_, path_, path_, out.data(), elements * sizeof(T), ds.address);
  return out;
}

template std::vector<std::uint8_t> File::read(const std::string&, std::uint64_t, std::int64_t) const;
template std::vector<std::int32_t> File::read(const std::string&, std::uint64_t, std::int64_t) const;
template std::vector<std::uint64_t> File::read(const std::string&, std::uint64_t, std::int64_t) const;
template std::vector<float> File::read(const std::string&, std::uint64_t, std::int64_t) const;

std::vector<std::uint8_t> File::read_bytes(const Dataset& ds, std::string_view where, std::uint64_t begin,
                                           std::uint64_t end) const {
  if (ds.rank != 1 || !stored_as<std::uint8_t>(ds.type))
    throw Error(fmt::format("{}: dataset '{}' is not a 1-D uint8 dataset", where, ds.path));
  if (begin > end || end > ds.dims[0])
    throw Error(fmt::format("{}: bytes [{}, {}) lie outside dataset '{}' of {} bytes", where, begin, end,
                            ds.path, ds.dims[0]));
  check_contiguous(ds, path_, ds.dims[0]);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(end - begin));
  if (!out.empty()) pread_all(fd_, path_, where, out.data(), out.size(), ds.address + begin);
  return out;
}

}  // namespace c2am::data::h5subset
