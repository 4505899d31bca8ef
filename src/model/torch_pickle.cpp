// Implements: read_torch_save (see torch_pickle.h): the torch globals that
// rebuild tensors from the archive's data/<key> storage records, as hooks of
// the project's one pickle VM (util/pickle.h) run over data.pkl, and the
// flattening of the unpickled object into dotted key paths.
#include "model/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/pickle.h"
#include "util/strings.h"

namespace c2am::model {

namespace {

namespace pk = util::pickle;
using pk::Kind;
using pk::Value;
using pk::ValuePtr;

constexpr int kMaxDepth = 200;  // deeper nesting means a self-referencing container

// The native payloads of the objects the hooks make: a storage (a 1-D CPU
// tensor of its elements) and a tensor.
struct Storage {
  torch::Tensor data;
};

const torch::Tensor* tensor_of(const Value& v) {
  return v.kind == Kind::kObject ? std::any_cast<torch::Tensor>(&v.native) : nullptr;
}
const Storage* storage_of(const Value& v) {
  return v.kind == Kind::kObject ? std::any_cast<Storage>(&v.native) : nullptr;
}

[[noreturn]] void fail(const std::string& what) { throw pk::PickleError(what); }

// torch.<X>Storage (PyTorch 1.x and 2.x's typed storages) and 2.x's
// torch.UntypedStorage, whose numel counts bytes.
std::optional<torch::ScalarType> storage_dtype(const std::string& global) {
  static const std::unordered_map<std::string, torch::ScalarType> kTypes = {
      {"torch.FloatStorage", torch::kFloat},
      {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},
      {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},
      {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},
      {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},
      {"torch.BoolStorage", torch::kBool},
      {"torch.ComplexFloatStorage", torch::kComplexFloat},
      {"torch.ComplexDoubleStorage", torch::kComplexDouble},
      {"torch.UntypedStorage", torch::kByte},
      {"torch.storage.UntypedStorage", torch::kByte},
  };
  const auto it = kTypes.find(global);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

// The torch.<dtype> globals (torch.float32 pickles as GLOBAL 'torch float32').
std::optional<torch::ScalarType> dtype_global(const std::string& global) {
  static const std::unordered_map<std::string, torch::ScalarType> kTypes = {
      {"torch.float32", torch::kFloat},
      {"torch.float", torch::kFloat},
      {"torch.float64", torch::kDouble},
      {"torch.double", torch::kDouble},
      {"torch.float16", torch::kHalf},
      {"torch.half", torch::kHalf},
      {"torch.bfloat16", torch::kBFloat16},
      {"torch.int64", torch::kLong},
      {"torch.long", torch::kLong},
      {"torch.int32", torch::kInt},
      {"torch.int", torch::kInt},
      {"torch.int16", torch::kShort},
      {"torch.short", torch::kShort},
      {"torch.int8", torch::kChar},
      {"torch.uint8", torch::kByte},
      {"torch.bool", torch::kBool},
      {"torch.complex64", torch::kComplexFloat},
      {"torch.cfloat", torch::kComplexFloat},
      {"torch.complex128", torch::kComplexDouble},
      {"torch.cdouble", torch::kComplexDouble},
  };
  const auto it = kTypes.find(global);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

// What torch.save's globals and persistent ids mean.
class TorchHooks : public pk::Hooks {
 public:
  explicit TorchHooks(caffe2::serialize::PyTorchStreamReader* archive) : archive_(archive) {}

  ValuePtr call(const std::string& name, const std::vector<ValuePtr>& args) override;
  ValuePtr persistent_load(const ValuePtr& pid) override;

 private:
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, bool v3);

  caffe2::serialize::PyTorchStreamReader* archive_;
  std::unordered_map<std::string, ValuePtr> storages_;  // by record key: tensors may share one
};

ValuePtr TorchHooks::call(const std::string& name, const std::vector<ValuePtr>& args) {
  if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, false);
  if (name == "torch._utils._rebuild_tensor_v3") return rebuild_tensor(args, true);
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (args.empty() || tensor_of(*args[0]) == nullptr) fail(fmt::format("{} without a tensor", name));
    return args[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, new_type, args, state): a tensor subclass
    if (args.size() < 3) fail(fmt::format("{} with {} arguments", name, args.size()));
    return pk::reduce(args[0], args[2], this);
  }
  // LibTorch's own pickler (torch::pickle_save) tags containers with their TorchScript type.
  if (name == "torch.jit._pickle.restore_type_tag" || name == "torch.jit._pickle.build_intlist" ||
      name == "torch.jit._pickle.build_doublelist" || name == "torch.jit._pickle.build_boollist" ||
      name == "torch.jit._pickle.build_tensorlist") {
    if (args.empty()) fail(fmt::format("{} without arguments", name));
    return args[0];
  }
  if (name == "torch.Size") {
    if (args.size() != 1) fail("torch.Size with other than one argument");
    return args[0];
  }
  if (util::starts_with(name, "torch._utils._rebuild_")) {
    fail(fmt::format(
        "unsupported kind of tensor '{}' (sparse, quantized, meta or device-only tensors are not read)",
        name));
  }
  return nullptr;  // OrderedDict, argparse.Namespace, torch.device, numpy scalars, ...: the VM's defaults
}

std::vector<int64_t> int_list(const Value& v, const char* what) {
  if (v.kind != Kind::kTuple && v.kind != Kind::kList)
    fail(fmt::format("tensor {} is a {}", what, pk::kind_name(v.kind)));
  std::vector<int64_t> out;
  for (const ValuePtr& item : v.items) {
    if (item->kind != Kind::kInt) fail(fmt::format("tensor {} holds a {}", what, pk::kind_name(item->kind)));
    out.push_back(item->integer);
  }
  return out;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
ValuePtr TorchHooks::rebuild_tensor(const std::vector<ValuePtr>& args, bool v3) {
  if (args.size() < (v3 ? 7u : 6u)) fail(fmt::format("tensor rebuilt from {} arguments", args.size()));
  const Storage* s = storage_of(*args[0]);
  if (s == nullptr) fail(fmt::format("tensor storage is a {}", pk::kind_name(args[0]->kind)));
  torch::Tensor storage = s->data;
  if (v3) {
    const auto dtype = args[6]->kind == Kind::kGlobal ? dtype_global(args[6]->text) : std::nullopt;
    if (!dtype) fail(fmt::format("unsupported tensor dtype '{}'", args[6]->text));
    const auto elem = static_cast<int64_t>(c10::elementSize(*dtype));
    if (storage.numel() * storage.element_size() % elem != 0)
      fail("storage size is not a multiple of the dtype size");
    if (storage.scalar_type() != *dtype) storage = storage.view(*dtype);
  }
  if (args[1]->kind != Kind::kInt) fail("tensor storage offset is not an int");
  const int64_t offset = args[1]->integer;
  const std::vector<int64_t> sizes = int_list(*args[2], "size");
  const std::vector<int64_t> strides = int_list(*args[3], "stride");
  if (sizes.size() != strides.size()) fail("tensor size and stride differ in length");
  if (offset < 0) fail("tensor has a negative storage offset");
  bool empty = false;
  int64_t last = offset;  // index of the last element the view reaches
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0 || strides[i] < 0) fail("tensor has a negative size or stride");
    empty = empty || sizes[i] == 0;
    if (sizes[i] > 0 && strides[i] > 0) {
      if (sizes[i] - 1 > (std::numeric_limits<int64_t>::max() - last) / strides[i])
        fail("tensor size overflows");
      last += (sizes[i] - 1) * strides[i];
    }
  }
  if (offset > storage.numel() || (!empty && last >= storage.numel())) {
    fail(fmt::format("tensor of size [{}], stride [{}], offset {} lies outside its storage of {} elements",
                     fmt::join(sizes, ", "), fmt::join(strides, ", "), offset, storage.numel()));
  }
  return pk::make_object("torch.Tensor", storage.as_strided(sizes, strides, offset));
}

// ('storage', storage_type, key, location, numel): record data/<key>, loaded
// once into a 1-D CPU tensor (location is ignored).
ValuePtr TorchHooks::persistent_load(const ValuePtr& pid) {
  const auto& p = pid->items;
  const auto is_text = [](const Value& v) { return v.kind == Kind::kStr || v.kind == Kind::kBytes; };
  if (pid->kind != Kind::kTuple || p.size() < 5 || !is_text(*p[0]) || p[0]->text != "storage" ||
      p[1]->kind != Kind::kGlobal || !is_text(*p[2])) {
    fail("unsupported persistent id (expected ('storage', type, key, location, numel))");
  }
  const std::string& key = p[2]->text;
  if (const auto it = storages_.find(key); it != storages_.end()) return it->second;
  const auto dtype = storage_dtype(p[1]->text);
  if (!dtype) fail(fmt::format("unsupported storage type '{}'", p[1]->text));
  const std::string record = "data/" + key;
  if (!archive_->hasRecord(record)) fail(fmt::format("the archive lacks the storage record '{}'", record));
  auto [data, nbytes] = archive_->getRecord(record);
  const size_t elem = c10::elementSize(*dtype);
  const int64_t numel = p[4]->kind == Kind::kInt ? p[4]->integer : static_cast<int64_t>(nbytes / elem);
  if (numel < 0 || static_cast<uint64_t>(numel) * elem > nbytes) {
    fail(fmt::format("storage record '{}' holds {} bytes, too few for {} elements of {}", record, nbytes,
                     numel, c10::toString(*dtype)));
  }
  torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(*dtype));
  if (numel > 0) std::memcpy(storage.data_ptr(), data.get(), static_cast<size_t>(numel) * elem);
  ValuePtr v = pk::make_object("torch.storage", Storage{storage});
  storages_.emplace(key, v);
  return v;
}

std::optional<std::string> key_text(const Value& key) {
  switch (key.kind) {
    case Kind::kStr:
    case Kind::kBytes:
      return key.text;
    case Kind::kInt:
      return std::to_string(key.integer);
    case Kind::kBool:
      return std::string(key.boolean ? "True" : "False");
    case Kind::kNone:
      return std::string("None");
    case Kind::kFloat:
      return fmt::format("{}", key.real);
    default:
      return std::nullopt;  // tuple, object, ... keys: the entry is skipped
  }
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

void flatten(const Value& v, const std::string& prefix, int depth, const std::string& path,
             std::map<std::string, torch::Tensor>* out) {
  if (depth > kMaxDepth) {
    throw Error(
        fmt::format("cannot read '{}' as a torch.save file: containers nested deeper than {} levels at '{}'",
                    path, kMaxDepth, prefix));
  }
  if (const torch::Tensor* tensor = tensor_of(v)) {
    if (!out->emplace(prefix, *tensor).second) {
      throw Error(fmt::format("cannot read '{}' as a torch.save file: two tensors have the key path '{}'",
                              path, prefix));
    }
    return;
  }
  switch (v.kind) {
    case Kind::kDict:
      for (const auto& [key, value] : v.entries) {
        if (const auto text = key_text(*key)) flatten(*value, join(prefix, *text), depth + 1, path, out);
      }
      return;
    case Kind::kList:
    case Kind::kTuple:
      for (size_t i = 0; i < v.items.size(); ++i)
        flatten(*v.items[i], join(prefix, std::to_string(i)), depth + 1, path, out);
      return;
    default:
      return;  // non-tensor leaves and opaque objects
  }
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::map<std::string, torch::Tensor> read_torch_save(const std::string& path) {
  const std::string prefix = fmt::format("cannot read '{}' as a torch.save file", path);
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_errno("cannot open torch.save file", path);
    char head[4] = {};
    in.read(head, sizeof head);
    const std::string_view magic(head, static_cast<size_t>(in.gcount()));
    if (magic.empty()) throw Error(fmt::format("{}: the file is empty", prefix));
    if (magic != std::string_view("PK\x03\x04", 4)) {
      if (static_cast<uint8_t>(head[0]) == 0x80) {  // a bare pickle: torch.save before 1.6's zip format
        throw Error(
            fmt::format("{}: it is in the legacy (pre-1.6, non-zip) torch.save format, which c2am does not "
                        "read; re-save it "
                        "with PyTorch >= 1.6: python3 -c \"import torch; torch.save(torch.load('{}', "
                        "map_location='cpu'), "
                        "'new.pth')\" (i.e. torch.save(torch.load(f), g))",
                        prefix, path));
      }
      throw Error(
          fmt::format("{}: not a zip archive (torch.save files of PyTorch >= 1.6 start with 'PK')", prefix));
    }
  }
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> archive;
  try {
    archive = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: not a complete zip archive (truncated or corrupt file?): {}", prefix,
                            first_line(e.what_without_backtrace())));
  }
  try {
    if (archive->hasRecord("byteorder")) {  // PyTorch >= 2.1 records it
      auto [data, size] = archive->getRecord("byteorder");
      const std::string order(static_cast<const char*>(data.get()), size);
      if (order != "little")
        throw Error(fmt::format("{}: its tensors are stored in '{}' byte order", prefix, order));
    }
    if (!archive->hasRecord("data.pkl")) {
      if (archive->hasRecord("constants.pkl")) {
        throw Error(
            fmt::format("{}: it is a TorchScript archive (torch.jit.save), not a torch.save file", prefix));
      }
      throw Error(fmt::format("{}: the archive has no data.pkl record", prefix));
    }
    auto [data, size] = archive->getRecord("data.pkl");
    TorchHooks hooks(archive.get());
    ValuePtr root;
    try {
      root = pk::load(std::string_view(static_cast<const char*>(data.get()), size), &hooks);
    } catch (const pk::PickleError& e) {
      throw Error(fmt::format("{}: {} (data.pkl byte {})", prefix, e.detail(), e.offset()));
    }
    std::map<std::string, torch::Tensor> out;
    flatten(*root, "", 0, path, &out);
    return out;
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: {}", prefix, first_line(e.what_without_backtrace())));
  }
}

}  // namespace c2am::model
