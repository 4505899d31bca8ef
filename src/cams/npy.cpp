// Implements: the .npy file format (npy.h): magic, version and header
// dictionary, numeric data in any byte order and memory order, the dispatch
// of object arrays to the pickle VM, and the conversions of NpyArray.
#include "cams/npy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cams/npy_internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/half.h"

namespace c2am::cams {

namespace pk = util::pickle;
using npy_detail::DTypeSpec;

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kBool:
      return "bool";
    case DType::kInt8:
      return "int8";
    case DType::kInt16:
      return "int16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kUInt8:
      return "uint8";
    case DType::kUInt16:
      return "uint16";
    case DType::kUInt32:
      return "uint32";
    case DType::kUInt64:
      return "uint64";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kObject:
      return "object";
  }
  return "?";
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::kBool:
    case DType::kInt8:
    case DType::kUInt8:
      return 1;
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kFloat16:
      return 2;
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kFloat64:
      return 8;
    case DType::kObject:
      return 0;
  }
  return 0;
}

bool is_integer(DType d) { return d != DType::kObject && !is_floating(d); }
bool is_floating(DType d) { return d == DType::kFloat16 || d == DType::kFloat32 || d == DType::kFloat64; }

std::int64_t NpyArray::size() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string NpyArray::shape_text() const {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::string NpyArray::describe() const {
  return fmt::format("{} array of shape {}", dtype_name(dtype), shape_text());
}

namespace {

template <typename T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Element i of a numeric array as double (int64 and uint64 through fn_int below when exactness matters).
double element(const NpyArray& a, std::size_t i) {
  const std::uint8_t* p = a.data.data() + i * dtype_size(a.dtype);
  switch (a.dtype) {
    case DType::kBool:
      return *p != 0 ? 1.0 : 0.0;
    case DType::kInt8:
      return load<std::int8_t>(p);
    case DType::kInt16:
      return load<std::int16_t>(p);
    case DType::kInt32:
      return load<std::int32_t>(p);
    case DType::kInt64:
      return static_cast<double>(load<std::int64_t>(p));
    case DType::kUInt8:
      return *p;
    case DType::kUInt16:
      return load<std::uint16_t>(p);
    case DType::kUInt32:
      return load<std::uint32_t>(p);
    case DType::kUInt64:
      return static_cast<double>(load<std::uint64_t>(p));
    case DType::kFloat16:
      return util::half_to_float(load<std::uint16_t>(p));
    case DType::kFloat32:
      return load<float>(p);
    case DType::kFloat64:
      return load<double>(p);
    case DType::kObject:
      break;
  }
  return 0.0;
}

void require_numeric(const NpyArray& a, const std::string& what) {
  if (a.dtype == DType::kObject) throw Error(fmt::format("{}: an object array, not a numeric one", what));
}

}  // namespace

std::vector<float> NpyArray::to_float(const std::string& what) const {
  require_numeric(*this, what);
  std::vector<float> out(static_cast<std::size_t>(size()));
  if (dtype == DType::kFloat32 && !out.empty()) {
    std::memcpy(out.data(), data.data(), out.size() * sizeof(float));
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(element(*this, i));
  }
  return out;
}

std::vector<double> NpyArray::to_double(const std::string& what) const {
  require_numeric(*this, what);
  std::vector<double> out(static_cast<std::size_t>(size()));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = element(*this, i);
  return out;
}

std::vector<std::int64_t> NpyArray::to_int64(const std::string& what) const {
  require_numeric(*this, what);
  std::vector<std::int64_t> out(static_cast<std::size_t>(size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint8_t* p = data.data() + i * dtype_size(dtype);
    if (dtype == DType::kInt64) {
      out[i] = load<std::int64_t>(p);
    } else if (dtype == DType::kUInt64) {
      const auto u = load<std::uint64_t>(p);
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw Error(fmt::format("{}: value {} does not fit int64", what, u));
      }
      out[i] = static_cast<std::int64_t>(u);
    } else {
      const double v = element(*this, i);
      if (!(std::trunc(v) == v && std::fabs(v) < 9.0e15)) {
        throw Error(fmt::format("{}: value {} at index {} is not a whole number", what, v, i));
      }
      out[i] = static_cast<std::int64_t>(v);
    }
  }
  return out;
}

namespace {

// The header dictionary, a Python literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}
  pk::ValuePtr parse() {
    pk::ValuePtr v = value();
    skip();
    if (i_ != s_.size()) fail("text after the dictionary");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("malformed header ({} at character {}): {}", what, i_, s_));
  }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  pk::ValuePtr value() {
    skip();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') return sequence(pk::Kind::kDict, '}');
    if (c == '(') return sequence(pk::Kind::kTuple, ')');
    if (c == '[') return sequence(pk::Kind::kList, ']');
    if (c == '\'' || c == '"') return string(c);
    if (word("True")) return boolean(true);
    if (word("False")) return boolean(false);
    if (word("None")) return pk::make(pk::Kind::kNone);
    return integer();
  }
  static pk::ValuePtr boolean(bool b) {
    auto v = pk::make(pk::Kind::kBool);
    v->boolean = b;
    return v;
  }
  pk::ValuePtr sequence(pk::Kind kind, char close) {
    ++i_;
    auto v = pk::make(kind);
    while (!eat(close)) {
      pk::ValuePtr item = value();
      if (kind == pk::Kind::kDict) {
        if (!eat(':')) fail("expected ':'");
        v->entries.emplace_back(item, value());
      } else {
        v->items.push_back(item);
      }
      if (!eat(',')) {
        if (!eat(close)) fail(fmt::format("expected ',' or '{}'", close));
        break;
      }
    }
    return v;
  }
  pk::ValuePtr string(char quote) {
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != quote) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out += s_[i_++];
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return pk::make_text(pk::Kind::kStr, out);
  }
  pk::ValuePtr integer() {
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    std::int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail("integer too large");
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ == start || (i_ == start + 1 && s_[start] == '-')) fail("unexpected character");
    if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long
    return pk::make_int(s_[start] == '-' ? -v : v);
  }

  std::string_view s_;
  size_t i_ = 0;
};

NpyArray unpickle_objects(std::string_view bytes, size_t offset, const std::vector<std::int64_t>& shape,
                          const std::string& prefix) {
  npy_detail::NpyHooks hooks;
  pk::ValuePtr root;
  size_t pos = offset;
  try {
    root = pk::load(bytes, &hooks, &pos);
  } catch (const pk::PickleError& e) {
    throw Error(fmt::format("{}: its pickled objects: {} (file byte {})", prefix, e.detail(), e.offset()));
  }
  NpyArray a;
  a.dtype = DType::kObject;
  a.shape = shape;
  if (const auto* inner = std::any_cast<NpyArray>(&root->native); inner != nullptr && inner->dtype == DType::kObject) {
    if (inner->shape != shape || inner->objects.size() != static_cast<size_t>(inner->size()))
      throw Error(fmt::format("{}: the header says shape {}, its pickled array has shape {} with {} objects", prefix,
                              a.shape_text(), inner->shape_text(), inner->objects.size()));
    return *inner;
  }
  if (const auto* u = std::any_cast<npy_detail::Unreadable>(&root->native)) {
    throw Error(fmt::format("{}: its pickled array: {}", prefix, u->why));
  }
  // Not an ndarray (one pickled object after the header): only a header of one element says so.
  if (a.size() != 1)
    throw Error(fmt::format("{}: the header says shape {} ({} objects), its pickle holds one object that is no array",
                            prefix, a.shape_text(), a.size()));
  a.objects = {root};
  return a;
}

}  // namespace

NpyArray parse_npy(std::string_view bytes, const std::string& name, bool allow_pickle) {
  const std::string prefix = fmt::format("cannot read '{}' as a .npy file", name);
  constexpr std::string_view kMagic("\x93NUMPY", 6);
  if (bytes.size() < 10 && (kMagic.substr(0, bytes.size()) == bytes || bytes.substr(0, 6) == kMagic)) {
    throw Error(fmt::format("{}: the file is truncated ({} bytes)", prefix, bytes.size()));
  }
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) {
    throw Error(fmt::format("{}: not a .npy file (no \\x93NUMPY magic)", prefix));
  }
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    throw Error(
        fmt::format("{}: format version {}.{} (this reader knows 1.0, 2.0 and 3.0)", prefix, major, minor));
  }
  const size_t start = major == 1 ? 10 : 12;
  if (bytes.size() < start) throw Error(fmt::format("{}: the file is truncated inside the header", prefix));
  size_t header_len = 0;
  for (size_t i = 0; i < start - 8; ++i)
    header_len |= size_t{static_cast<unsigned char>(bytes[8 + i])} << (8 * i);
  if (header_len > bytes.size() - start) {
    throw Error(
        fmt::format("{}: the file is truncated inside the header ({} header bytes announced, {} present)",
                    prefix, header_len, bytes.size() - start));
  }
  pk::ValuePtr header;
  try {
    header = HeaderParser(bytes.substr(start, header_len)).parse();
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", prefix, e.what()));
  }
  const pk::ValuePtr descr = pk::find(*header, "descr");
  const pk::ValuePtr fortran = pk::find(*header, "fortran_order");
  const pk::ValuePtr shape_v = pk::find(*header, "shape");
  if (!descr || !fortran || !shape_v || fortran->kind != pk::Kind::kBool) {
    throw Error(fmt::format("{}: the header lacks 'descr', 'fortran_order' or 'shape': {}", prefix,
                            bytes.substr(start, header_len)));
  }
  if (descr->kind != pk::Kind::kStr) {
    throw Error(fmt::format("{}: structured dtypes (a descr list) are not supported", prefix));
  }
  const DTypeSpec spec = npy_detail::parse_descr(descr->text);
  if (!spec.supported) throw Error(fmt::format("{}: unsupported dtype '{}'", prefix, descr->text));
  std::vector<std::int64_t> shape;
  try {
    shape = pk::int_list(*shape_v, "shape");
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", prefix, e.what()));
  }
  const size_t data_start = start + header_len;
  if (spec.dtype == DType::kObject) {
    if (!allow_pickle) {
      throw Error(fmt::format(
          "{}: it holds Python objects (dtype object), which are read only with allow_pickle", prefix));
    }
    return unpickle_objects(bytes, data_start, shape, prefix);
  }
  try {
    return npy_detail::make_array(spec, shape, fortran->boolean, bytes.substr(data_start), "its data");
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", prefix, e.what()));
  }
}

NpyArray read_npy(const std::string& path, bool allow_pickle) {
  return parse_npy(util::read_file(path), path, allow_pickle);
}

NpyArray array_from_value(const pk::Value& v, const std::string& what) {
  if (v.kind == pk::Kind::kObject) {
    if (const auto* a = std::any_cast<NpyArray>(&v.native)) return *a;
    if (const auto* u = std::any_cast<npy_detail::Unreadable>(&v.native)) {
      throw Error(fmt::format("{}: {} that cannot be read: {}", what, v.text, u->why));
    }
    throw Error(fmt::format("{}: a Python object of class '{}', not an array", what, v.text));
  }
  NpyArray a;
  const auto put = [&a](auto x) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&x);
    a.data.insert(a.data.end(), p, p + sizeof x);
  };
  switch (v.kind) {
    case pk::Kind::kBool:
      a.dtype = DType::kBool, put(static_cast<std::uint8_t>(v.boolean));
      return a;
    case pk::Kind::kInt:
      a.dtype = DType::kInt64, put(v.integer);
      return a;
    case pk::Kind::kFloat:
      a.dtype = DType::kFloat64, put(v.real);
      return a;
    case pk::Kind::kList:
    case pk::Kind::kTuple: {
      bool any_float = false;
      for (const pk::ValuePtr& item : v.items) {
        if (item->kind != pk::Kind::kInt && item->kind != pk::Kind::kBool && item->kind != pk::Kind::kFloat) {
          throw Error(fmt::format("{}: a {} holding a {}, not a flat list of numbers", what,
                                  pk::kind_name(v.kind), pk::kind_name(item->kind)));
        }
        any_float = any_float || item->kind == pk::Kind::kFloat;
      }
      a.dtype = any_float ? DType::kFloat64 : DType::kInt64;
      a.shape = {static_cast<std::int64_t>(v.items.size())};
      for (const pk::ValuePtr& item : v.items) {
        const std::int64_t i = item->kind == pk::Kind::kBool ? std::int64_t{item->boolean} : item->integer;
        if (any_float) {
          put(item->kind == pk::Kind::kFloat ? item->real : static_cast<double>(i));
        } else {
          put(i);
        }
      }
      return a;
    }
    default:
      throw Error(fmt::format("{}: a Python {}, not an array", what, pk::kind_name(v.kind)));
  }
}

}  // namespace c2am::cams
