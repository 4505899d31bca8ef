// Implements: torch tensors inside a numpy object array's pickle, decoded
// without LibTorch (npy_internal.h: torch_call). Plain pickle reduces a CPU
// tensor to torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
// ...), its storage to torch.storage._load_from_bytes(b), where b is torch's
// legacy (non-zip) torch.save stream of that one storage: five pickles
// (magic number, protocol version, system info, the storage as a persistent
// id, the storage keys), then per key an int64 element count and the raw
// little-endian elements.
#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "cams/npy_internal.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/torch_storage.h"

namespace c2am::cams::npy_detail {

namespace pk = util::pickle;
namespace ts = util::torch_storage;
using pk::Kind;
using pk::Value;
using pk::ValuePtr;
using ts::ElementType;

namespace {

constexpr std::string_view kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
                                        10);  // 0x1950a86a20f9469cfc6c
constexpr std::int64_t kLegacyProtocol = 1001;

// The npy dtype of a torch element type: bfloat16 is widened to float32;
// complex has no DType.
std::optional<DType> npy_dtype(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
    case ElementType::kBFloat16:
      return DType::kFloat32;
    case ElementType::kFloat64:
      return DType::kFloat64;
    case ElementType::kFloat16:
      return DType::kFloat16;
    case ElementType::kInt64:
      return DType::kInt64;
    case ElementType::kInt32:
      return DType::kInt32;
    case ElementType::kInt16:
      return DType::kInt16;
    case ElementType::kInt8:
      return DType::kInt8;
    case ElementType::kUInt8:
      return DType::kUInt8;
    case ElementType::kBool:
      return DType::kBool;
    case ElementType::kComplex64:
    case ElementType::kComplex128:
      return std::nullopt;
  }
  return std::nullopt;
}

// bfloat16 is the upper half of a float32.
std::vector<std::uint8_t> widen_bfloat16(const std::vector<std::uint8_t>& raw) {
  std::vector<std::uint8_t> out(raw.size() * 2, 0);
  for (size_t i = 0; i + 1 < raw.size(); i += 2) {
    out[2 * i + 2] = raw[i];
    out[2 * i + 3] = raw[i + 1];
  }
  return out;
}

class LegacyHooks : public pk::Hooks {
 public:
  ValuePtr persistent_load(const ValuePtr& pid) override {
    ts::StorageId id;
    try {
      id = ts::parse_storage_id(*pid);
    } catch (const pk::PickleError& e) {
      throw Error(e.detail());  // as an Error, the VM adds no pickle byte offset to it
    }
    if (pid->items.size() > 5 && pid->items[5]->kind != Kind::kNone)
      throw Error("storage views (legacy view metadata) are not read");
    return pk::make_object("torch.storage", std::move(id));
  }
};

// torch.storage._load_from_bytes(b): the legacy stream described at the top.
TorchStorage load_from_bytes(const std::vector<ValuePtr>& args) {
  if (args.size() != 1 || args[0]->kind != Kind::kBytes)
    throw Error("torch.storage._load_from_bytes without bytes");
  const std::string_view b = args[0]->text;
  if (b.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    throw Error("the storage bytes are a zip-format torch.save archive, which this reader does not decode");
  }
  size_t pos = 0;
  try {
    const ValuePtr magic = pk::load(b, nullptr, &pos);
    if (magic->kind != Kind::kBigInt || magic->text != kLegacyMagic) {
      throw Error("the storage bytes do not start with torch.save's legacy magic number");
    }
    const ValuePtr protocol = pk::load(b, nullptr, &pos);
    if (protocol->kind != Kind::kInt || protocol->integer != kLegacyProtocol) {
      throw Error("the storage bytes have an unknown torch.save protocol version");
    }
    const ValuePtr info = pk::load(b, nullptr, &pos);
    const ValuePtr little = pk::find(*info, "little_endian");
    if (!little || little->kind != Kind::kBool || !little->boolean) {
      throw Error("the storage was saved on a big-endian machine");
    }
    LegacyHooks hooks;
    const ValuePtr root = pk::load(b, &hooks, &pos);
    const auto* ref = std::any_cast<ts::StorageId>(&root->native);
    if (ref == nullptr) throw Error("the storage bytes hold no storage");
    const ValuePtr keys = pk::load(b, nullptr, &pos);
    if (keys->kind != Kind::kList || keys->items.size() != 1 || keys->items[0]->text != ref->key) {
      throw Error("the storage bytes hold other than the one storage");
    }
    if (b.size() - pos < 8) throw Error("the storage bytes end before the element count");
    std::int64_t numel = 0;
    std::memcpy(&numel, b.data() + pos, sizeof numel);  // little-endian, as the stream says
    pos += 8;
    const size_t elem = ts::element_size(ref->type);
    if (numel < 0 || static_cast<std::uint64_t>(numel) > (b.size() - pos) / elem) {
      throw Error(fmt::format("the storage bytes are truncated ({} elements announced, {} bytes present)",
                              numel, b.size() - pos));
    }
    return TorchStorage{ref->type, std::string(b.substr(pos, static_cast<size_t>(numel) * elem))};
  } catch (const pk::PickleError& e) {
    throw Error(fmt::format("the storage bytes are not a legacy torch.save stream: {}", e.what()));
  }
}

// _rebuild_tensor_v2 / _v3 (util/torch_storage.h checks the arguments): the
// view's elements in C order, bfloat16 widened to float32.
ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, bool v3) {
  const ts::TensorView view = ts::parse_rebuild_args(args, v3);
  if (const auto* u = std::any_cast<Unreadable>(&args[0]->native)) return pk::make_object("torch.Tensor", *u);
  const auto* storage = std::any_cast<TorchStorage>(&args[0]->native);
  if (storage == nullptr)
    throw Error(fmt::format("torch tensor storage is a {}", pk::kind_name(args[0]->kind)));
  ts::check_inside(view, storage->type, storage->bytes.size());
  const ElementType type = view.dtype.value_or(storage->type);
  const std::optional<DType> dtype = npy_dtype(type);
  if (!dtype) {
    throw Error(fmt::format("unsupported torch tensor dtype '{}' (the .npy reader has no complex types)",
                            ts::element_name(type)));
  }
  const size_t elem = ts::element_size(type);
  NpyArray a;
  a.dtype = *dtype;
  a.shape = view.sizes;
  a.data = gather(reinterpret_cast<const std::uint8_t*>(storage->bytes.data()), storage->bytes.size() / elem,
                  elem, view.sizes, view.strides, view.offset, "torch tensor");
  if (type == ElementType::kBFloat16) a.data = widen_bfloat16(a.data);
  return pk::make_object("torch.Tensor", std::move(a));
}

}  // namespace

ValuePtr torch_call(const std::string& name, const std::vector<ValuePtr>& args, pk::Hooks* hooks) {
  try {
    if (name == "torch.storage._load_from_bytes")
      return pk::make_object("torch.storage", load_from_bytes(args));
    if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, false);
    if (name == "torch._utils._rebuild_tensor_v3") return rebuild_tensor(args, true);
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (args.empty()) throw Error(fmt::format("{} without a tensor", name));
      return args[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, new_type, args, state): a tensor subclass
      if (args.size() < 3) throw Error(fmt::format("{} with {} arguments", name, args.size()));
      return pk::reduce(args[0], args[2], hooks);
    }
    if (name == "torch.Size" && args.size() == 1) return args[0];
    if (util::starts_with(name, "torch._utils._rebuild_")) {
      throw Error(
          fmt::format("a kind of torch tensor this reader does not decode ('{}': sparse, quantized, meta or "
                      "device-only); save it with .numpy()",
                      name));
    }
  } catch (const Error& e) {
    return pk::make_object(name == "torch.storage._load_from_bytes" ? "torch.storage" : "torch.Tensor",
                           Unreadable{e.what()});
  }
  return nullptr;  // torch.device, dtype globals, ...: the VM's defaults
}

}  // namespace c2am::cams::npy_detail
