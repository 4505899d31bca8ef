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
#include <map>
#include <optional>

#include "cams/npy_internal.h"
#include "util/error.h"
#include "util/strings.h"

namespace c2am::cams::npy_detail {

namespace pk = util::pickle;
using pk::Kind;
using pk::Value;
using pk::ValuePtr;

namespace {

constexpr std::string_view kLegacyMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
                                        10);  // 0x1950a86a20f9469cfc6c
constexpr std::int64_t kLegacyProtocol = 1001;

// Element type of a torch storage class or dtype global; kBFloat16 is widened to float32.
enum class TorchType { kNone, kBFloat16, kPlain };
struct TorchDType {
  TorchType type = TorchType::kNone;
  DType dtype = DType::kUInt8;
};

TorchDType torch_dtype(const std::string& global) {
  static const std::map<std::string, DType> kTypes = {
      {"torch.FloatStorage", DType::kFloat32},  {"torch.float32", DType::kFloat32},
      {"torch.DoubleStorage", DType::kFloat64}, {"torch.float64", DType::kFloat64},
      {"torch.HalfStorage", DType::kFloat16},   {"torch.float16", DType::kFloat16},
      {"torch.LongStorage", DType::kInt64},     {"torch.int64", DType::kInt64},
      {"torch.IntStorage", DType::kInt32},      {"torch.int32", DType::kInt32},
      {"torch.ShortStorage", DType::kInt16},    {"torch.int16", DType::kInt16},
      {"torch.CharStorage", DType::kInt8},      {"torch.int8", DType::kInt8},
      {"torch.ByteStorage", DType::kUInt8},     {"torch.uint8", DType::kUInt8},
      {"torch.BoolStorage", DType::kBool},      {"torch.bool", DType::kBool},
      {"torch.UntypedStorage", DType::kUInt8},  {"torch.storage.UntypedStorage", DType::kUInt8},
  };
  if (global == "torch.BFloat16Storage" || global == "torch.bfloat16")
    return {TorchType::kBFloat16, DType::kFloat32};
  const auto it = kTypes.find(global);
  if (it == kTypes.end()) return {};
  return {TorchType::kPlain, it->second};
}

// bfloat16 is the upper half of a float32.
std::string widen_bfloat16(std::string_view raw) {
  std::string out(raw.size() * 2, '\0');
  for (size_t i = 0; i + 1 < raw.size(); i += 2) {
    out[2 * i + 2] = raw[i];
    out[2 * i + 3] = raw[i + 1];
  }
  return out;
}

struct LegacyRef {  // the persistent id of the legacy stream's storage
  std::string key;
  TorchDType type;
  std::int64_t numel = 0;
};

class LegacyHooks : public pk::Hooks {
 public:
  ValuePtr persistent_load(const ValuePtr& pid) override {
    const auto& p = pid->items;
    if (pid->kind != Kind::kTuple || p.size() < 5 || p[0]->text != "storage" || p[1]->kind != Kind::kGlobal ||
        p[2]->kind != Kind::kStr) {
      throw Error(
          "unexpected persistent id in the storage bytes (expected ('storage', type, key, location, numel))");
    }
    if (p.size() > 5 && p[5]->kind != Kind::kNone)
      throw Error("storage views (legacy view metadata) are not read");
    LegacyRef ref{p[2]->text, torch_dtype(p[1]->text), p[4]->kind == Kind::kInt ? p[4]->integer : -1};
    if (ref.type.type == TorchType::kNone)
      throw Error(fmt::format("unsupported torch storage type '{}'", p[1]->text));
    return pk::make_object("torch.storage", ref);
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
    const auto* ref = std::any_cast<LegacyRef>(&root->native);
    if (ref == nullptr) throw Error("the storage bytes hold no storage");
    const ValuePtr keys = pk::load(b, nullptr, &pos);
    if (keys->kind != Kind::kList || keys->items.size() != 1 || keys->items[0]->text != ref->key) {
      throw Error("the storage bytes hold other than the one storage");
    }
    if (b.size() - pos < 8) throw Error("the storage bytes end before the element count");
    std::int64_t numel = 0;
    std::memcpy(&numel, b.data() + pos, sizeof numel);  // little-endian, as the stream says
    pos += 8;
    const size_t elem = ref->type.type == TorchType::kBFloat16 ? 2 : dtype_size(ref->type.dtype);
    if (numel < 0 || static_cast<std::uint64_t>(numel) > (b.size() - pos) / elem) {
      throw Error(fmt::format("the storage bytes are truncated ({} elements announced, {} bytes present)",
                              numel, b.size() - pos));
    }
    const std::string_view raw = b.substr(pos, static_cast<size_t>(numel) * elem);
    TorchStorage s;
    s.dtype = ref->type.dtype;
    s.bytes = ref->type.type == TorchType::kBFloat16 ? widen_bfloat16(raw) : std::string(raw);
    return s;
  } catch (const pk::PickleError& e) {
    throw Error(fmt::format("the storage bytes are not a legacy torch.save stream: {}", e.what()));
  }
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, bool v3) {
  if (args.size() < (v3 ? 7u : 6u))
    throw Error(fmt::format("torch tensor rebuilt from {} arguments", args.size()));
  if (const auto* u = std::any_cast<Unreadable>(&args[0]->native)) return pk::make_object("torch.Tensor", *u);
  const auto* storage = std::any_cast<TorchStorage>(&args[0]->native);
  if (storage == nullptr)
    throw Error(fmt::format("torch tensor storage is a {}", pk::kind_name(args[0]->kind)));
  DType dtype = storage->dtype;
  std::string widened;
  std::string_view bytes = storage->bytes;
  if (v3) {
    const TorchDType t = args[6]->kind == Kind::kGlobal ? torch_dtype(args[6]->text) : TorchDType{};
    if (t.type == TorchType::kNone)
      throw Error(fmt::format("unsupported torch tensor dtype '{}'", args[6]->text));
    if (t.type == TorchType::kBFloat16) bytes = widened = widen_bfloat16(bytes);
    dtype = t.dtype;
    if (bytes.size() % dtype_size(dtype) != 0)
      throw Error("torch storage size is not a multiple of the dtype size");
  }
  if (args[1]->kind != Kind::kInt) throw Error("torch tensor storage offset is not an int");
  NpyArray a;
  a.dtype = dtype;
  a.shape = int_list(*args[2], "torch tensor size");
  const std::vector<std::int64_t> strides = int_list(*args[3], "torch tensor stride");
  const size_t elem = dtype_size(dtype);
  a.data = gather(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size() / elem, elem, a.shape,
                  strides, args[1]->integer, "torch tensor");
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
