// Implements: read_torch_save (see torch_pickle.h): a small pickle VM for the
// protocol-2 (and 4) pickles that torch.save writes into data.pkl, the torch
// globals that rebuild tensors from the archive's data/<key> storage records,
// and the flattening of the unpickled object into dotted key paths.
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

namespace c2am::model {

namespace {

constexpr int kMaxDepth = 200;  // deeper nesting means a self-referencing container

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// One unpickled Python value. Containers are shared (the pickle memo refers to
// them while they are still being filled), so values live behind shared_ptr.
struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kTensor, kStorage, kGlobal, kObject };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  std::string text;  // str / bytes; "module.name" of a global; class name of an opaque object
  std::vector<ValuePtr> items;                         // tuple, list
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, in insertion order
  torch::Tensor tensor;                                // tensor; the 1-D tensor of a storage
};
using Kind = Value::Kind;

ValuePtr make(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

ValuePtr make_text(Kind kind, std::string text) {
  auto v = make(kind);
  v->text = std::move(text);
  return v;
}

ValuePtr make_int(int64_t i) {
  auto v = make(Kind::kInt);
  v->integer = i;
  return v;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kTensor: return "tensor";
    case Kind::kStorage: return "storage";
    case Kind::kGlobal: return "global";
    case Kind::kObject: return "object";
  }
  return "?";
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

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
      {"torch.float32", torch::kFloat},   {"torch.float", torch::kFloat},
      {"torch.float64", torch::kDouble},  {"torch.double", torch::kDouble},
      {"torch.float16", torch::kHalf},    {"torch.half", torch::kHalf},
      {"torch.bfloat16", torch::kBFloat16},
      {"torch.int64", torch::kLong},      {"torch.long", torch::kLong},
      {"torch.int32", torch::kInt},       {"torch.int", torch::kInt},
      {"torch.int16", torch::kShort},     {"torch.short", torch::kShort},
      {"torch.int8", torch::kChar},       {"torch.uint8", torch::kByte},
      {"torch.bool", torch::kBool},
      {"torch.complex64", torch::kComplexFloat},   {"torch.cfloat", torch::kComplexFloat},
      {"torch.complex128", torch::kComplexDouble}, {"torch.cdouble", torch::kComplexDouble},
  };
  const auto it = kTypes.find(global);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

class Unpickler {
 public:
  Unpickler(std::string_view bytes, std::string path, caffe2::serialize::PyTorchStreamReader* archive)
      : bytes_(bytes), path_(std::move(path)), archive_(archive) {}

  ValuePtr load();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("cannot read '{}' as a torch.save file: {} (data.pkl byte {})", path_, what, op_pos_));
  }

  std::string_view read_bytes(uint64_t n) {
    if (n > bytes_.size() - pos_) fail("data.pkl ends inside an opcode (truncated pickle)");
    const std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  template <typename T>
  T read_le() {  // unsigned little-endian integer
    const std::string_view b = read_bytes(sizeof(T));
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(static_cast<uint8_t>(b[i])) << (8 * i));
    return v;
  }
  std::string read_line() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("data.pkl ends inside a GLOBAL name");
    std::string line(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }
  double read_binfloat() {  // BINFLOAT is big-endian
    const std::string_view b = read_bytes(8);
    uint64_t bits = 0;
    for (char c : b) bits = (bits << 8) | static_cast<uint8_t>(c);
    double d = 0.0;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  ValuePtr read_long(uint64_t n);

  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const ValuePtr& top() const {
    if (stack_.size() <= floor()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("opcode needs a MARK but none is set");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void memo_put(uint64_t id) { memo_[id] = top(); }
  ValuePtr memo_get(uint64_t id) const {
    const auto it = memo_.find(id);
    if (it == memo_.end()) fail(fmt::format("memo entry {} is not defined", id));
    return it->second;
  }
  ValuePtr tuple_of(std::vector<ValuePtr> items) const {
    auto v = make(Kind::kTuple);
    v->items = std::move(items);
    return v;
  }

  void set_items(const ValuePtr& target, const std::vector<ValuePtr>& flat);
  void append(const ValuePtr& target, const std::vector<ValuePtr>& items);
  ValuePtr call(const ValuePtr& callable, const ValuePtr& args);
  ValuePtr new_object(const ValuePtr& cls);
  void build(const ValuePtr& target);
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, bool v3);
  ValuePtr persistent_load(const ValuePtr& pid);
  std::vector<int64_t> int_list(const ValuePtr& v, const char* what) const;

  std::string_view bytes_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::string path_;
  caffe2::serialize::PyTorchStreamReader* archive_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::unordered_map<std::string, ValuePtr> storages_;  // by record key: tensors may share one
};

ValuePtr Unpickler::load() {
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= bytes_.size()) fail("data.pkl ends without STOP (truncated pickle)");
    const auto op = static_cast<uint8_t>(bytes_[pos_++]);
    switch (op) {
      case 0x80: read_le<uint8_t>(); break;   // PROTO
      case 0x95: read_le<uint64_t>(); break;  // FRAME: only groups the bytes that follow
      case '.': return pop();                 // STOP
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                            // POP
      case '1': pop_mark(); break;                       // POP_MARK
      case '2': push(top()); break;                      // DUP
      case 'c': {                                        // GLOBAL
        std::string module = read_line();
        push(make_text(Kind::kGlobal, module + "." + read_line()));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const ValuePtr name = pop();
        const ValuePtr module = pop();
        if (name->kind != Kind::kString || module->kind != Kind::kString) fail("STACK_GLOBAL needs two strings");
        push(make_text(Kind::kGlobal, module->text + "." + name->text));
        break;
      }
      case 'q': memo_put(read_le<uint8_t>()); break;   // BINPUT
      case 'r': memo_put(read_le<uint32_t>()); break;  // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;        // MEMOIZE
      case 'h': push(memo_get(read_le<uint8_t>())); break;   // BINGET
      case 'j': push(memo_get(read_le<uint32_t>())); break;  // LONG_BINGET
      case '}': push(make(Kind::kDict)); break;              // EMPTY_DICT
      case ']': push(make(Kind::kList)); break;              // EMPTY_LIST
      case ')': push(make(Kind::kTuple)); break;             // EMPTY_TUPLE
      case 't': push(tuple_of(pop_mark())); break;           // TUPLE
      case 0x85:                                             // TUPLE1
      case 0x86:                                             // TUPLE2
      case 0x87: {                                           // TUPLE3
        std::vector<ValuePtr> items(op - 0x84);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(tuple_of(std::move(items)));
        break;
      }
      case 'l': {  // LIST
        auto list = make(Kind::kList);
        list->items = pop_mark();
        push(list);
        break;
      }
      case 'd': {  // DICT
        const std::vector<ValuePtr> flat = pop_mark();
        push(make(Kind::kDict));
        set_items(top(), flat);
        break;
      }
      case 's': {  // SETITEM
        ValuePtr value = pop();
        ValuePtr key = pop();
        set_items(top(), {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        const std::vector<ValuePtr> flat = pop_mark();
        set_items(top(), flat);
        break;
      }
      case 'a': {  // APPEND
        ValuePtr value = pop();
        append(top(), {value});
        break;
      }
      case 'e': {  // APPENDS
        const std::vector<ValuePtr> items = pop_mark();
        append(top(), items);
        break;
      }
      case 'J': push(make_int(static_cast<int32_t>(read_le<uint32_t>()))); break;  // BININT
      case 'K': push(make_int(read_le<uint8_t>())); break;                         // BININT1
      case 'M': push(make_int(read_le<uint16_t>())); break;                        // BININT2
      case 0x8a: push(read_long(read_le<uint8_t>())); break;                       // LONG1
      case 0x8b: push(read_long(read_le<uint32_t>())); break;                      // LONG4
      case 'G': {                                                                  // BINFLOAT
        auto v = make(Kind::kFloat);
        v->real = read_binfloat();
        push(v);
        break;
      }
      case 'N': push(make(Kind::kNone)); break;  // NONE
      case 0x88:                                 // NEWTRUE
      case 0x89: {                               // NEWFALSE
        auto v = make(Kind::kBool);
        v->boolean = op == 0x88;
        push(v);
        break;
      }
      case 'X':  // BINUNICODE
      case 'T':  // BINSTRING
      case 'B':  // BINBYTES
        push(make_text(Kind::kString, std::string(read_bytes(read_le<uint32_t>()))));
        break;
      case 0x8c:  // SHORT_BINUNICODE
      case 'U':   // SHORT_BINSTRING
      case 'C':   // SHORT_BINBYTES
        push(make_text(Kind::kString, std::string(read_bytes(read_le<uint8_t>()))));
        break;
      case 0x8d:  // BINUNICODE8
      case 0x8e:  // BINBYTES8
        push(make_text(Kind::kString, std::string(read_bytes(read_le<uint64_t>()))));
        break;
      case 'R': {  // REDUCE
        const ValuePtr args = pop();
        const ValuePtr callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        pop();
        const ValuePtr cls = pop();
        push(new_object(cls));
        break;
      }
      case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        pop();
        pop();
        const ValuePtr cls = pop();
        push(new_object(cls));
        break;
      }
      case 'b':  // BUILD: obj.__setstate__(state)
        pop();     // the state, which build() drops
        build(top());
        break;
      case 'Q': push(persistent_load(pop())); break;      // BINPERSID
      default: fail(fmt::format("unsupported pickle opcode 0x{:02x}", op));
    }
  }
}

// LONG1/LONG4: little-endian two's complement of n bytes.
ValuePtr Unpickler::read_long(uint64_t n) {
  const std::string_view b = read_bytes(n);
  if (n == 0) return make_int(0);
  const bool negative = (static_cast<uint8_t>(b[n - 1]) & 0x80) != 0;
  uint64_t u = negative ? ~uint64_t{0} : 0;
  for (size_t i = 0; i < n && i < 8; ++i) {
    u &= ~(uint64_t{0xff} << (8 * i));
    u |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
  }
  bool fits = ((u >> 63) != 0) == negative;
  for (size_t i = 8; i < n; ++i) fits = fits && static_cast<uint8_t>(b[i]) == (negative ? 0xff : 0x00);
  if (!fits) return make_text(Kind::kObject, "int");  // beyond int64: never part of a tensor, skipped
  return make_int(static_cast<int64_t>(u));
}

void Unpickler::set_items(const ValuePtr& target, const std::vector<ValuePtr>& flat) {
  if (flat.size() % 2 != 0) fail("SETITEMS with an odd number of items");
  if (target->kind == Kind::kObject) return;  // dict subclass of an unknown class: skipped anyway
  if (target->kind != Kind::kDict) fail(fmt::format("SETITEM on a {}", kind_name(target->kind)));
  for (size_t i = 0; i < flat.size(); i += 2) target->entries.emplace_back(flat[i], flat[i + 1]);
}

void Unpickler::append(const ValuePtr& target, const std::vector<ValuePtr>& items) {
  if (target->kind == Kind::kObject) return;  // list subclass of an unknown class: skipped anyway
  if (target->kind != Kind::kList) fail(fmt::format("APPEND on a {}", kind_name(target->kind)));
  target->items.insert(target->items.end(), items.begin(), items.end());
}

ValuePtr Unpickler::call(const ValuePtr& callable, const ValuePtr& args_value) {
  if (args_value->kind != Kind::kTuple) fail(fmt::format("REDUCE arguments are a {}, not a tuple", kind_name(args_value->kind)));
  const std::vector<ValuePtr>& args = args_value->items;
  if (callable->kind == Kind::kObject) return make_text(Kind::kObject, callable->text);
  if (callable->kind != Kind::kGlobal) fail(fmt::format("REDUCE calls a {}", kind_name(callable->kind)));
  const std::string& name = callable->text;
  if (name == "collections.OrderedDict" || name == "collections.defaultdict" || name == "builtins.dict") {
    auto dict = make(Kind::kDict);
    // OrderedDict([(k, v), ...]); torch.save itself passes () and uses SETITEMS.
    if (name == "collections.OrderedDict" && args.size() == 1 && args[0]->kind == Kind::kList) {
      for (const ValuePtr& pair : args[0]->items) {
        if ((pair->kind != Kind::kTuple && pair->kind != Kind::kList) || pair->items.size() != 2) {
          fail("OrderedDict argument is not a list of pairs");
        }
        dict->entries.emplace_back(pair->items[0], pair->items[1]);
      }
    }
    return dict;
  }
  if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, false);
  if (name == "torch._utils._rebuild_tensor_v3") return rebuild_tensor(args, true);
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (args.empty() || args[0]->kind != Kind::kTensor) fail(fmt::format("{} without a tensor", name));
    return args[0];
  }
  if (name == "torch._tensor._rebuild_from_type_v2") {  // (func, new_type, args, state): a tensor subclass
    if (args.size() < 3) fail(fmt::format("{} with {} arguments", name, args.size()));
    return call(args[0], args[2]);
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
  if (starts_with(name, "torch._utils._rebuild_")) {
    fail(fmt::format("unsupported kind of tensor '{}' (sparse, quantized, meta or device-only tensors are not read)",
                     name));
  }
  return make_text(Kind::kObject, name);  // argparse.Namespace, torch.device, numpy scalars, ...: skipped
}

ValuePtr Unpickler::new_object(const ValuePtr& cls) {
  if (cls->kind == Kind::kGlobal && (cls->text == "collections.OrderedDict" || cls->text == "builtins.dict")) {
    return make(Kind::kDict);
  }
  return make_text(Kind::kObject, cls->kind == Kind::kGlobal ? cls->text : std::string(kind_name(cls->kind)));
}

// BUILD on `target`: the state of an OrderedDict (its _metadata), of an
// opaque object or of a tensor's Python attributes is dropped.
void Unpickler::build(const ValuePtr& target) {
  switch (target->kind) {
    case Kind::kDict:
    case Kind::kList:
    case Kind::kObject:
    case Kind::kTensor: return;
    default: fail(fmt::format("BUILD on a {}", kind_name(target->kind)));
  }
}

std::vector<int64_t> Unpickler::int_list(const ValuePtr& v, const char* what) const {
  if (v->kind != Kind::kTuple && v->kind != Kind::kList) fail(fmt::format("tensor {} is a {}", what, kind_name(v->kind)));
  std::vector<int64_t> out;
  for (const ValuePtr& item : v->items) {
    if (item->kind != Kind::kInt) fail(fmt::format("tensor {} holds a {}", what, kind_name(item->kind)));
    out.push_back(item->integer);
  }
  return out;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
ValuePtr Unpickler::rebuild_tensor(const std::vector<ValuePtr>& args, bool v3) {
  if (args.size() < (v3 ? 7u : 6u)) fail(fmt::format("tensor rebuilt from {} arguments", args.size()));
  if (args[0]->kind != Kind::kStorage) fail(fmt::format("tensor storage is a {}", kind_name(args[0]->kind)));
  torch::Tensor storage = args[0]->tensor;
  if (v3) {
    const auto dtype = args[6]->kind == Kind::kGlobal ? dtype_global(args[6]->text) : std::nullopt;
    if (!dtype) fail(fmt::format("unsupported tensor dtype '{}'", args[6]->text));
    const auto elem = static_cast<int64_t>(c10::elementSize(*dtype));
    if (storage.numel() * storage.element_size() % elem != 0) fail("storage size is not a multiple of the dtype size");
    if (storage.scalar_type() != *dtype) storage = storage.view(*dtype);
  }
  if (args[1]->kind != Kind::kInt) fail("tensor storage offset is not an int");
  const int64_t offset = args[1]->integer;
  const std::vector<int64_t> sizes = int_list(args[2], "size");
  const std::vector<int64_t> strides = int_list(args[3], "stride");
  if (sizes.size() != strides.size()) fail("tensor size and stride differ in length");
  if (offset < 0) fail("tensor has a negative storage offset");
  bool empty = false;
  int64_t last = offset;  // index of the last element the view reaches
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0 || strides[i] < 0) fail("tensor has a negative size or stride");
    empty = empty || sizes[i] == 0;
    if (sizes[i] > 0 && strides[i] > 0) {
      if (sizes[i] - 1 > (std::numeric_limits<int64_t>::max() - last) / strides[i]) fail("tensor size overflows");
      last += (sizes[i] - 1) * strides[i];
    }
  }
  if (offset > storage.numel() || (!empty && last >= storage.numel())) {
    fail(fmt::format("tensor of size [{}], stride [{}], offset {} lies outside its storage of {} elements",
                     fmt::join(sizes, ", "), fmt::join(strides, ", "), offset, storage.numel()));
  }
  auto v = make(Kind::kTensor);
  v->tensor = storage.as_strided(sizes, strides, offset);
  return v;
}

// ('storage', storage_type, key, location, numel): record data/<key>, loaded
// once into a 1-D CPU tensor (location is ignored).
ValuePtr Unpickler::persistent_load(const ValuePtr& pid) {
  const auto& p = pid->items;
  if (pid->kind != Kind::kTuple || p.size() < 5 || p[0]->kind != Kind::kString || p[0]->text != "storage" ||
      p[1]->kind != Kind::kGlobal || p[2]->kind != Kind::kString) {
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
    fail(fmt::format("storage record '{}' holds {} bytes, too few for {} elements of {}", record, nbytes, numel,
                     c10::toString(*dtype)));
  }
  torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(*dtype));
  if (numel > 0) std::memcpy(storage.data_ptr(), data.get(), static_cast<size_t>(numel) * elem);
  auto v = make(Kind::kStorage);
  v->tensor = storage;
  storages_.emplace(key, v);
  return v;
}

std::optional<std::string> key_text(const Value& key) {
  switch (key.kind) {
    case Kind::kString: return key.text;
    case Kind::kInt: return std::to_string(key.integer);
    case Kind::kBool: return std::string(key.boolean ? "True" : "False");
    case Kind::kNone: return std::string("None");
    case Kind::kFloat: return fmt::format("{}", key.real);
    default: return std::nullopt;  // tuple, object, ... keys: the entry is skipped
  }
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

void flatten(const Value& v, const std::string& prefix, int depth, const std::string& path,
             std::map<std::string, torch::Tensor>* out) {
  if (depth > kMaxDepth) {
    throw Error(fmt::format("cannot read '{}' as a torch.save file: containers nested deeper than {} levels at '{}'",
                            path, kMaxDepth, prefix));
  }
  switch (v.kind) {
    case Kind::kTensor:
      if (!out->emplace(prefix, v.tensor).second) {
        throw Error(fmt::format("cannot read '{}' as a torch.save file: two tensors have the key path '{}'", path,
                                prefix));
      }
      return;
    case Kind::kDict:
      for (const auto& [key, value] : v.entries) {
        if (const auto text = key_text(*key)) flatten(*value, join(prefix, *text), depth + 1, path, out);
      }
      return;
    case Kind::kList:
    case Kind::kTuple:
      for (size_t i = 0; i < v.items.size(); ++i) flatten(*v.items[i], join(prefix, std::to_string(i)), depth + 1, path, out);
      return;
    default: return;  // non-tensor leaves and opaque objects
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
        throw Error(fmt::format(
            "{}: it is in the legacy (pre-1.6, non-zip) torch.save format, which c2am does not read; re-save it "
            "with PyTorch >= 1.6: python3 -c \"import torch; torch.save(torch.load('{}', map_location='cpu'), "
            "'new.pth')\" (i.e. torch.save(torch.load(f), g))",
            prefix, path));
      }
      throw Error(fmt::format("{}: not a zip archive (torch.save files of PyTorch >= 1.6 start with 'PK')", prefix));
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
      if (order != "little") throw Error(fmt::format("{}: its tensors are stored in '{}' byte order", prefix, order));
    }
    if (!archive->hasRecord("data.pkl")) {
      if (archive->hasRecord("constants.pkl")) {
        throw Error(fmt::format("{}: it is a TorchScript archive (torch.jit.save), not a torch.save file", prefix));
      }
      throw Error(fmt::format("{}: the archive has no data.pkl record", prefix));
    }
    auto [data, size] = archive->getRecord("data.pkl");
    Unpickler unpickler(std::string_view(static_cast<const char*>(data.get()), size), path, archive.get());
    const ValuePtr root = unpickler.load();
    std::map<std::string, torch::Tensor> out;
    flatten(*root, "", 0, path, &out);
    return out;
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: {}", prefix, first_line(e.what_without_backtrace())));
  }
}

}  // namespace c2am::model
