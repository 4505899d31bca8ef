// Implements: the numpy side of the .npy reader's pickle hooks
// (npy_internal.h): numpy.dtype and its BUILD state, ndarray _reconstruct +
// __setstate__, numpy scalars and _frombuffer (protocol 5), and the raw-bytes
// to C-order array conversion they share with the file reader.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "cams/npy_internal.h"
#include "util/error.h"
#include "util/strings.h"

namespace c2am::cams::npy_detail {

namespace pk = util::pickle;
using pk::Kind;
using pk::Value;
using pk::ValuePtr;

DTypeSpec parse_descr(std::string_view descr) {
  DTypeSpec spec;
  spec.text = std::string(descr);
  std::string_view d = descr;
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    spec.big_endian = d[0] == '>';
    d.remove_prefix(1);
  }
  if (d.empty()) return spec;
  const char kind = d[0];
  int size = 0;
  for (char c : d.substr(1)) {
    if (c < '0' || c > '9') return spec;  // "M8[ns]", ...: unsupported
    size = size * 10 + (c - '0');
    if (size > 1024) return spec;
  }
  const auto pick = [&spec](DType t) {
    spec.dtype = t;
    spec.supported = true;
  };
  switch (kind) {
    case '?':
    case 'b':
      if (kind == '?' || size == 1) pick(DType::kBool);
      break;
    case 'i':
      if (size == 1) pick(DType::kInt8);
      if (size == 2) pick(DType::kInt16);
      if (size == 4) pick(DType::kInt32);
      if (size == 8) pick(DType::kInt64);
      break;
    case 'u':
      if (size == 1) pick(DType::kUInt8);
      if (size == 2) pick(DType::kUInt16);
      if (size == 4) pick(DType::kUInt32);
      if (size == 8) pick(DType::kUInt64);
      break;
    case 'f':
      if (size == 2) pick(DType::kFloat16);
      if (size == 4) pick(DType::kFloat32);
      if (size == 8) pick(DType::kFloat64);
      break;
    case 'O':
      pick(DType::kObject);
      break;
    default:
      break;  // complex, strings, void, datetimes
  }
  if (dtype_size(spec.dtype) <= 1) spec.big_endian = false;
  return spec;
}

std::vector<std::uint8_t> gather(const std::uint8_t* src, std::size_t src_elems, std::size_t elem,
                                 const std::vector<std::int64_t>& shape,
                                 const std::vector<std::int64_t>& strides, std::int64_t offset,
                                 const std::string& what) {
  if (shape.size() != strides.size())
    throw Error(fmt::format("{}: shape and strides differ in length", what));
  std::int64_t n = 1, lo = offset, hi = offset;  // the element range the view reaches
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) throw Error(fmt::format("{}: negative dimension {}", what, shape[d]));
    if (shape[d] > 0 && n > std::numeric_limits<std::int64_t>::max() / shape[d]) {
      throw Error(fmt::format("{}: the shape overflows", what));
    }
    n *= shape[d];
    if (shape[d] > 1) (strides[d] < 0 ? lo : hi) += (shape[d] - 1) * strides[d];
  }
  if (n == 0) return {};
  if (lo < 0 || hi >= static_cast<std::int64_t>(src_elems)) {
    throw Error(fmt::format("{}: the view (shape [{}], strides [{}], offset {}) lies outside its {} elements",
                            what, fmt::join(shape, ", "), fmt::join(strides, ", "), offset, src_elems));
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(n) * elem);
  std::vector<std::int64_t> index(shape.size(), 0);
  std::int64_t at = offset;
  for (std::int64_t i = 0; i < n; ++i) {
    std::memcpy(out.data() + static_cast<std::size_t>(i) * elem, src + static_cast<std::size_t>(at) * elem,
                elem);
    for (size_t d = shape.size(); d-- > 0;) {  // odometer, last dimension fastest
      if (++index[d] < shape[d]) {
        at += strides[d];
        break;
      }
      at -= (shape[d] - 1) * strides[d];
      index[d] = 0;
    }
  }
  return out;
}

NpyArray make_array(const DTypeSpec& spec, std::vector<std::int64_t> shape, bool fortran,
                    std::string_view raw, const std::string& what) {
  if (!spec.supported || spec.dtype == DType::kObject) {
    throw Error(fmt::format("{}: unsupported dtype '{}'", what, spec.text));
  }
  NpyArray a;
  a.dtype = spec.dtype;
  a.shape = std::move(shape);
  const std::size_t elem = dtype_size(a.dtype);
  std::uint64_t n = 1;
  for (std::int64_t d : a.shape) {
    if (d < 0) throw Error(fmt::format("{}: negative dimension in shape {}", what, a.shape_text()));
    if (d > 0 && n > std::numeric_limits<std::uint64_t>::max() / 16 / static_cast<std::uint64_t>(d)) {
      throw Error(fmt::format("{}: shape {} is too large", what, a.shape_text()));
    }
    n *= static_cast<std::uint64_t>(d);
  }
  const std::uint64_t need = n * elem;
  if (raw.size() < need) {
    throw Error(fmt::format("{}: truncated: a {} needs {} bytes, only {} present", what, a.describe(), need,
                            raw.size()));
  }
  a.data.assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(need));
  if (spec.big_endian && elem > 1) {
    for (std::size_t i = 0; i < a.data.size(); i += elem)
      std::reverse(a.data.begin() + i, a.data.begin() + i + elem);
  }
  if (fortran && a.shape.size() > 1 && n > 0) {
    std::vector<std::int64_t> strides(a.shape.size());
    std::int64_t s = 1;
    for (size_t d = 0; d < a.shape.size(); ++d) strides[d] = s, s *= a.shape[d];
    const std::vector<std::uint8_t> column_major = std::move(a.data);
    a.data = gather(column_major.data(), n, elem, a.shape, strides, 0, what);
  }
  return a;
}

namespace {

bool one_of(const std::string& name, std::string_view what) {
  // numpy >= 2 moved numpy.core to numpy._core; pickles use either.
  return name == fmt::format("numpy.core.{}", what) || name == fmt::format("numpy._core.{}", what);
}

const DTypeSpec& dtype_of(const Value& v, const char* what) {
  const auto* spec = v.kind == Kind::kObject ? std::any_cast<DTypeSpec>(&v.native) : nullptr;
  if (spec == nullptr) throw Error(fmt::format("{} is a {}, not a numpy.dtype", what, pk::kind_name(v.kind)));
  if (!spec->supported) throw Error(fmt::format("unsupported numpy dtype '{}'", spec->text));
  return *spec;
}

const std::string& bytes_of(const Value& v, const char* what) {
  if (v.kind != Kind::kBytes && v.kind != Kind::kStr) {
    throw Error(fmt::format("{} is a {}, not bytes", what, pk::kind_name(v.kind)));
  }
  return v.text;
}

// ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)); version 0 has no version field.
NpyArray set_state(const Value& state) {
  if (state.kind != Kind::kTuple || (state.items.size() != 5 && state.items.size() != 4)) {
    throw Error("numpy array state is not a (version, shape, dtype, is_fortran, data) tuple");
  }
  const size_t at = state.items.size() - 4;
  const std::vector<std::int64_t> shape = pk::int_list(*state.items[at], "numpy array shape");
  const DTypeSpec& spec = dtype_of(*state.items[at + 1], "numpy array dtype");
  const Value& fortran = *state.items[at + 2];
  const Value& raw = *state.items[at + 3];
  if (spec.dtype != DType::kObject) {
    return make_array(spec, shape, fortran.kind == Kind::kBool && fortran.boolean,
                      bytes_of(raw, "numpy array data"), "numpy array");
  }
  NpyArray a;
  a.dtype = DType::kObject;
  a.shape = shape;
  if (raw.kind != Kind::kList || static_cast<std::int64_t>(raw.items.size()) != a.size()) {
    throw Error(
        fmt::format("numpy object array of shape {} without a list of {} objects", a.shape_text(), a.size()));
  }
  a.objects = raw.items;
  return a;
}

ValuePtr unreadable(const std::string& name, const std::string& why) {
  return pk::make_object(name, Unreadable{why});
}

}  // namespace

ValuePtr NpyHooks::call(const std::string& name, const std::vector<ValuePtr>& args) {
  if (util::starts_with(name, "torch.")) return torch_call(name, args, this);
  try {
    if (one_of(name, "multiarray._reconstruct")) return pk::make_object("numpy.ndarray", PendingArray{});
    if (name == "numpy.dtype") {
      if (args.empty()) throw Error("numpy.dtype without arguments");
      return pk::make_object(name, parse_descr(bytes_of(*args[0], "numpy.dtype argument")));
    }
    if (one_of(name, "multiarray.scalar")) {  // (dtype, bytes) or, for object dtype, (dtype, obj)
      if (args.size() != 2) throw Error(fmt::format("numpy scalar with {} arguments", args.size()));
      const DTypeSpec& spec = dtype_of(*args[0], "numpy scalar dtype");
      if (spec.dtype == DType::kObject) {
        NpyArray a;
        a.dtype = DType::kObject;
        a.objects = {args[1]};
        return pk::make_object("numpy.ndarray", std::move(a));
      }
      return pk::make_object(
          "numpy.ndarray",
          make_array(spec, {}, false, bytes_of(*args[1], "numpy scalar data"), "numpy scalar"));
    }
    if (one_of(name, "numeric._frombuffer")) {  // (buffer, dtype, shape, order): protocol 5
      if (args.size() != 4) throw Error(fmt::format("numpy _frombuffer with {} arguments", args.size()));
      const DTypeSpec& spec = dtype_of(*args[1], "numpy array dtype");
      const bool fortran = args[3]->kind == Kind::kStr && args[3]->text == "F";
      return pk::make_object("numpy.ndarray",
                             make_array(spec, pk::int_list(*args[2], "numpy array shape"), fortran,
                                        bytes_of(*args[0], "numpy array data"), "numpy array"));
    }
  } catch (const Error& e) {
    return unreadable(name, e.what());
  }
  return nullptr;
}

bool NpyHooks::build(Value& target, const ValuePtr& state) {
  if (target.kind != Kind::kObject) return false;
  if (auto* spec = std::any_cast<DTypeSpec>(&target.native)) {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    const auto& s = state->items;
    if (state->kind == Kind::kTuple && s.size() >= 2 && s[1]->kind == Kind::kStr) {
      spec->big_endian = s[1]->text == ">" && dtype_size(spec->dtype) > 1;
    }
    if (state->kind == Kind::kTuple && s.size() >= 5 &&
        (s[2]->kind != Kind::kNone || s[3]->kind != Kind::kNone)) {
      spec->supported = false;
      spec->text += " (structured or subarray)";
    }
    return true;
  }
  if (std::any_cast<PendingArray>(&target.native) != nullptr) {
    try {
      target.native = set_state(*state);
    } catch (const Error& e) {
      target.native = Unreadable{e.what()};
    }
    return true;
  }
  return false;
}

}  // namespace c2am::cams::npy_detail
