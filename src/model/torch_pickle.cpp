// Implements: read_torch_save (see torch_pickle.h): the torch globals that
// rebuild tensors from the archive's data/<key> storage records, as hooks of
// the project's one pickle VM (util/pickle.h) run over data.pkl (what the
// storages and tensor arguments mean: util/torch_storage.h), and the
// flattening of the unpickled object into dotted key paths.
#include "model/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/pickle.h"
#include "util/strings.h"
#include "util/torch_storage.h"

namespace c2am::model {

namespace {

namespace pk = util::pickle;
namespace ts = util::torch_storage;
using pk::Kind;
using pk::Value;
using pk::ValuePtr;

constexpr int kMaxDepth = 200;  // deeper nesting means a self-referencing container

// The native payloads of the objects the hooks make: a storage (a 1-D CPU
// tensor of its elements, and their type as the pickle names it) and a tensor.
struct Storage {
  torch::Tensor data;
  ts::ElementType type;
};

const torch::Tensor* tensor_of(const Value& v) {
  return v.kind == Kind::kObject ? std::any_cast<torch::Tensor>(&v.native) : nullptr;
}
const Storage* storage_of(const Value& v) {
  return v.kind == Kind::kObject ? std::any_cast<Storage>(&v.native) : nullptr;
}

[[noreturn]] void fail(const std::string& what) { throw pk::PickleError(what); }

torch::ScalarType scalar_type(ts::ElementType type) {
  switch (type) {
    case ts::ElementType::kFloat32:
      return torch::kFloat;
    case ts::ElementType::kFloat64:
      return torch::kDouble;
    case ts::ElementType::kFloat16:
      return torch::kHalf;
    case ts::ElementType::kBFloat16:
      return torch::kBFloat16;
    case ts::ElementType::kInt64:
      return torch::kLong;
    case ts::ElementType::kInt32:
      return torch::kInt;
    case ts::ElementType::kInt16:
      return torch::kShort;
    case ts::ElementType::kInt8:
      return torch::kChar;
    case ts::ElementType::kUInt8:
      return torch::kByte;
    case ts::ElementType::kBool:
      return torch::kBool;
    case ts::ElementType::kComplex64:
      return torch::kComplexFloat;
    case ts::ElementType::kComplex128:
      return torch::kComplexDouble;
  }
  return torch::kByte;
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

// _rebuild_tensor_v2 / _v3 (util/torch_storage.h checks the arguments): a
// view of the storage, reinterpreted as v3's dtype where that differs.
ValuePtr TorchHooks::rebuild_tensor(const std::vector<ValuePtr>& args, bool v3) {
  const ts::TensorView view = ts::parse_rebuild_args(args, v3);
  const Storage* s = storage_of(*args[0]);
  if (s == nullptr) fail(fmt::format("tensor storage is a {}", pk::kind_name(args[0]->kind)));
  ts::check_inside(view, s->type, static_cast<std::uint64_t>(s->data.nbytes()));
  torch::Tensor storage = s->data;
  const torch::ScalarType dtype = scalar_type(view.dtype.value_or(s->type));
  if (storage.scalar_type() != dtype) storage = storage.view(dtype);
  return pk::make_object("torch.Tensor", storage.as_strided(view.sizes, view.strides, view.offset));
}

// ('storage', storage_type, key, location, numel): record data/<key>, loaded
// once into a 1-D CPU tensor (location is ignored).
ValuePtr TorchHooks::persistent_load(const ValuePtr& pid) {
  const ts::StorageId id = ts::parse_storage_id(*pid);
  if (const auto it = storages_.find(id.key); it != storages_.end()) return it->second;
  const std::string record = "data/" + id.key;
  if (!archive_->hasRecord(record)) fail(fmt::format("the archive lacks the storage record '{}'", record));
  auto [data, nbytes] = archive_->getRecord(record);
  const size_t elem = ts::element_size(id.type);
  const int64_t numel = id.numel.value_or(static_cast<int64_t>(nbytes / elem));
  if (numel < 0 || static_cast<uint64_t>(numel) > nbytes / elem) {
    fail(fmt::format("storage record '{}' holds {} bytes, too few for {} elements of {}", record, nbytes,
                     numel, ts::element_name(id.type)));
  }
  torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(scalar_type(id.type)));
  if (numel > 0) std::memcpy(storage.data_ptr(), data.get(), static_cast<size_t>(numel) * elem);
  ValuePtr v = pk::make_object("torch.storage", Storage{storage, id.type});
  storages_.emplace(id.key, v);
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
