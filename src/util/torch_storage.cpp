// Implements: torch_storage.h: the table of torch storage classes and dtype
// globals, the storage persistent id, and the checks of _rebuild_tensor_v2/_v3.
#include "util/torch_storage.h"

#include <fmt/format.h>

#include <iterator>
#include <limits>
#include <string_view>

namespace c2am::util::torch_storage {

namespace {

namespace pk = util::pickle;
using pk::Kind;
using pk::Value;
using pk::ValuePtr;

[[noreturn]] void fail(const std::string& what) { throw pk::PickleError(what); }

// Size and name of each element type, in the order of ElementType.
struct Element {
  ElementType type;
  std::size_t size;
  const char* name;
};
constexpr Element kElements[] = {
    {ElementType::kFloat32, 4, "float32"},     {ElementType::kFloat64, 8, "float64"},
    {ElementType::kFloat16, 2, "float16"},     {ElementType::kBFloat16, 2, "bfloat16"},
    {ElementType::kInt64, 8, "int64"},         {ElementType::kInt32, 4, "int32"},
    {ElementType::kInt16, 2, "int16"},         {ElementType::kInt8, 1, "int8"},
    {ElementType::kUInt8, 1, "uint8"},         {ElementType::kBool, 1, "bool"},
    {ElementType::kComplex64, 8, "complex64"}, {ElementType::kComplex128, 16, "complex128"},
};
constexpr bool in_enum_order() {
  for (size_t i = 0; i < std::size(kElements); ++i) {
    if (static_cast<size_t>(kElements[i].type) != i) return false;
  }
  return std::size(kElements) == static_cast<size_t>(ElementType::kComplex128) + 1;
}
static_assert(in_enum_order(), "kElements lists every ElementType in order");

enum class Global { kStorage, kDtype };

struct Entry {
  std::string_view name;
  Global global;
  ElementType type;
};

// torch.<X>Storage: PyTorch 1.x and 2.x's typed storages; torch.UntypedStorage
// (PyTorch 2.x): bytes. torch.<dtype>: torch.float32 pickles as GLOBAL 'torch float32'.
constexpr Entry kTable[] = {
    {"torch.FloatStorage", Global::kStorage, ElementType::kFloat32},
    {"torch.DoubleStorage", Global::kStorage, ElementType::kFloat64},
    {"torch.HalfStorage", Global::kStorage, ElementType::kFloat16},
    {"torch.BFloat16Storage", Global::kStorage, ElementType::kBFloat16},
    {"torch.LongStorage", Global::kStorage, ElementType::kInt64},
    {"torch.IntStorage", Global::kStorage, ElementType::kInt32},
    {"torch.ShortStorage", Global::kStorage, ElementType::kInt16},
    {"torch.CharStorage", Global::kStorage, ElementType::kInt8},
    {"torch.ByteStorage", Global::kStorage, ElementType::kUInt8},
    {"torch.BoolStorage", Global::kStorage, ElementType::kBool},
    {"torch.ComplexFloatStorage", Global::kStorage, ElementType::kComplex64},
    {"torch.ComplexDoubleStorage", Global::kStorage, ElementType::kComplex128},
    {"torch.UntypedStorage", Global::kStorage, ElementType::kUInt8},
    {"torch.storage.UntypedStorage", Global::kStorage, ElementType::kUInt8},
    {"torch.float32", Global::kDtype, ElementType::kFloat32},
    {"torch.float", Global::kDtype, ElementType::kFloat32},
    {"torch.float64", Global::kDtype, ElementType::kFloat64},
    {"torch.double", Global::kDtype, ElementType::kFloat64},
    {"torch.float16", Global::kDtype, ElementType::kFloat16},
    {"torch.half", Global::kDtype, ElementType::kFloat16},
    {"torch.bfloat16", Global::kDtype, ElementType::kBFloat16},
    {"torch.int64", Global::kDtype, ElementType::kInt64},
    {"torch.long", Global::kDtype, ElementType::kInt64},
    {"torch.int32", Global::kDtype, ElementType::kInt32},
    {"torch.int", Global::kDtype, ElementType::kInt32},
    {"torch.int16", Global::kDtype, ElementType::kInt16},
    {"torch.short", Global::kDtype, ElementType::kInt16},
    {"torch.int8", Global::kDtype, ElementType::kInt8},
    {"torch.uint8", Global::kDtype, ElementType::kUInt8},
    {"torch.bool", Global::kDtype, ElementType::kBool},
    {"torch.complex64", Global::kDtype, ElementType::kComplex64},
    {"torch.cfloat", Global::kDtype, ElementType::kComplex64},
    {"torch.complex128", Global::kDtype, ElementType::kComplex128},
    {"torch.cdouble", Global::kDtype, ElementType::kComplex128},
};

std::optional<ElementType> lookup(const std::string& name, Global global) {
  for (const Entry& e : kTable) {
    if (e.global == global && e.name == name) return e.type;
  }
  return std::nullopt;
}

bool is_text(const Value& v) { return v.kind == Kind::kStr || v.kind == Kind::kBytes; }

std::string view_text(const TensorView& v) {
  return fmt::format("size [{}], stride [{}], offset {}", fmt::join(v.sizes, ", "),
                     fmt::join(v.strides, ", "), v.offset);
}

}  // namespace

std::size_t element_size(ElementType type) { return kElements[static_cast<size_t>(type)].size; }
const char* element_name(ElementType type) { return kElements[static_cast<size_t>(type)].name; }

std::optional<ElementType> storage_type(const std::string& global) {
  return lookup(global, Global::kStorage);
}
std::optional<ElementType> dtype_type(const std::string& global) { return lookup(global, Global::kDtype); }

StorageId parse_storage_id(const Value& pid) {
  const auto& p = pid.items;
  if (pid.kind != Kind::kTuple || p.size() < 5 || !is_text(*p[0]) || p[0]->text != "storage" ||
      p[1]->kind != Kind::kGlobal || !is_text(*p[2])) {
    fail("unsupported persistent id (expected ('storage', type, key, location, numel))");
  }
  const auto type = storage_type(p[1]->text);
  if (!type) fail(fmt::format("unsupported torch storage type '{}'", p[1]->text));
  StorageId id;
  id.type = *type;
  id.key = p[2]->text;
  if (p[4]->kind == Kind::kInt) id.numel = p[4]->integer;
  return id;
}

TensorView parse_rebuild_args(const std::vector<ValuePtr>& args, bool v3) {
  const size_t need = v3 ? 7 : 6;
  if (args.size() < need) {
    fail(fmt::format("torch._utils._rebuild_tensor_{} with {} arguments (it takes at least {})",
                     v3 ? "v3" : "v2", args.size(), need));
  }
  TensorView v;
  if (args[1]->kind != Kind::kInt)
    fail(fmt::format("torch tensor storage offset is a Python {}, not an int", pk::kind_name(args[1]->kind)));
  v.offset = args[1]->integer;
  v.sizes = pk::int_list(*args[2], "torch tensor size");
  v.strides = pk::int_list(*args[3], "torch tensor stride");
  if (v3) {
    if (args[6]->kind != Kind::kGlobal) {
      fail(fmt::format("torch tensor dtype is a Python {}, not a torch.<dtype> global",
                       pk::kind_name(args[6]->kind)));
    }
    v.dtype = dtype_type(args[6]->text);
    if (!v.dtype) fail(fmt::format("unsupported torch tensor dtype '{}'", args[6]->text));
  }
  if (v.sizes.size() != v.strides.size()) {
    fail(fmt::format("torch tensor size [{}] and stride [{}] differ in length", fmt::join(v.sizes, ", "),
                     fmt::join(v.strides, ", ")));
  }
  if (v.offset < 0) fail(fmt::format("torch tensor has a negative storage offset ({})", v.offset));
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t numel = 1;
  std::int64_t last = v.offset;  // the index of the last element the view reaches
  for (size_t d = 0; d < v.sizes.size(); ++d) {
    const std::int64_t size = v.sizes[d], stride = v.strides[d];
    if (size < 0) fail(fmt::format("torch tensor has a negative size ({}) in dimension {}", size, d));
    if (stride < 0) fail(fmt::format("torch tensor has a negative stride ({}) in dimension {}", stride, d));
    if (size > 0 && numel > kMax / size) {
      fail(fmt::format("torch tensor of size [{}] has more elements than an int64 counts",
                       fmt::join(v.sizes, ", ")));
    }
    numel *= size;
    if (size > 0 && stride > 0) {
      if (size - 1 > (kMax - last) / stride) {
        fail(fmt::format("torch tensor of {} reaches beyond the largest int64 element index", view_text(v)));
      }
      last += (size - 1) * stride;
    }
  }
  return v;
}

void check_inside(const TensorView& view, ElementType storage_type, std::uint64_t storage_bytes) {
  const ElementType type = view.dtype.value_or(storage_type);
  const std::size_t elem = element_size(type);
  if (storage_bytes % elem != 0) {
    fail(fmt::format("torch storage of {} bytes does not hold whole {} elements ({} bytes each)",
                     storage_bytes, element_name(type), elem));
  }
  const auto numel = static_cast<std::int64_t>(storage_bytes / elem);
  bool empty = false;
  std::int64_t last = view.offset;  // parse_rebuild_args ruled out overflow and negative values
  for (size_t d = 0; d < view.sizes.size(); ++d) {
    empty = empty || view.sizes[d] == 0;
    if (view.sizes[d] > 0) last += (view.sizes[d] - 1) * view.strides[d];
  }
  if (view.offset > numel || (!empty && last >= numel)) {
    fail(fmt::format("torch tensor of {} lies outside its storage of {} {} elements", view_text(view), numel,
                     element_name(type)));
  }
}

}  // namespace c2am::util::torch_storage
