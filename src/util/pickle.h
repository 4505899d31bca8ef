// Implements: the one pickle VM of c2am: it runs a Python pickle (protocols
// 2-5, the binary opcodes that numpy's and torch's pickles use) and returns a
// tree of Python values, without Python. What a global means (a tensor, a
// numpy array) is the caller's business: Hooks turn calls of known globals,
// persistent ids and BUILD states into values, possibly carrying a C++ object.
// Users: model/torch_pickle.cpp (torch.save's data.pkl) and cams/npy* (object
// arrays of .npy files), both through util/torch_storage.h for torch tensors.
#pragma once
#include <any>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.h"

namespace c2am::util::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

enum class Kind {
  kNone,
  kBool,
  kInt,
  kBigInt,  // an int beyond int64
  kFloat,
  kStr,
  kBytes,  // bytes, bytearray, and Python 2 str (BINSTRING)
  kTuple,
  kList,
  kDict,
  kGlobal,  // a module attribute (class or function), "module.name"
  kObject,  // the result of calling a global, or of NEWOBJ: opaque unless a hook says what it is
};

// One unpickled Python value. Containers are shared (the pickle memo refers to
// them while they are still being filled), so values live behind shared_ptr.
struct Value {
  Kind kind = Kind::kNone;
  bool boolean = false;
  std::int64_t integer = 0;
  double real = 0.0;
  // kStr (UTF-8), kBytes; kBigInt: little-endian two's complement; kGlobal:
  // "module.name"; kObject: the global that made it ("collections.Counter").
  std::string text;
  std::vector<ValuePtr> items;                         // kTuple, kList; kObject: the call's arguments
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // kDict, in insertion order; kObject: SETITEMS on it
  ValuePtr state;                                      // kObject: what BUILD gave it (nullptr: nothing)
  std::any native;  // kObject made by a hook: the C++ object it stands for (a tensor, an array, ...)
};

ValuePtr make(Kind kind);
ValuePtr make_int(std::int64_t i);
ValuePtr make_text(Kind kind, std::string text);
// An object of `name` (kObject) carrying `native`.
ValuePtr make_object(std::string name, std::any native = {});
const char* kind_name(Kind kind);

// The value under the str (or bytes) key `key` of a dict, or nullptr (also
// when `dict` is no dict).
ValuePtr find(const Value& dict, std::string_view key);
// The str keys of a dict, in order (for messages).
std::vector<std::string> str_keys(const Value& dict);
// The ints of a tuple or list (shapes, strides). Throws PickleError "<what> is
// a Python <kind>, not a tuple of ints" or "<what> holds a Python <kind>, not an int".
std::vector<std::int64_t> int_list(const Value& v, const std::string& what);

// A malformed or unsupported pickle. detail() says what is wrong, offset()
// the byte offset of the opcode at fault (kNoOffset when unknown). Hooks
// throw it without an offset; the VM adds the offset of the current opcode.
class PickleError : public Error {
 public:
  static constexpr std::size_t kNoOffset = static_cast<std::size_t>(-1);
  explicit PickleError(std::string detail, std::size_t offset = kNoOffset);
  const std::string& detail() const { return detail_; }
  std::size_t offset() const { return offset_; }

 private:
  std::string detail_;
  std::size_t offset_;
};

// What a caller knows about the globals of its pickles. Every hook may throw
// PickleError; the defaults know nothing.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // REDUCE of the global `name` with `args`: a value, or nullptr for the VM's
  // default (dicts for collections.OrderedDict / defaultdict and builtins.dict,
  // else an opaque kObject named `name` holding the arguments).
  virtual ValuePtr call(const std::string& name, const std::vector<ValuePtr>& args);
  // NEWOBJ / NEWOBJ_EX of the class `name` (keyword arguments dropped): a
  // value, or nullptr for the default (as for call).
  virtual ValuePtr new_object(const std::string& name, const std::vector<ValuePtr>& args);
  // BINPERSID: the object a persistent id stands for. Default: PickleError.
  virtual ValuePtr persistent_load(const ValuePtr& pid);
  // BUILD (obj.__setstate__(state)) on `target`: true when handled. Unhandled,
  // dicts and lists drop the state and objects keep it in Value::state.
  virtual bool build(Value& target, const ValuePtr& state);
};

// Runs the pickle that starts at byte *pos of `bytes` (0 when pos is null) to
// its STOP and returns its value; *pos is then the byte after the STOP, where
// a next pickle of the same stream starts. Throws PickleError.
// Unsupported: protocol 0/1 text opcodes, sets (EMPTY_SET, FROZENSET),
// extension codes (EXT1/2/4) and out-of-band buffers (NEXT_BUFFER).
ValuePtr load(std::string_view bytes, Hooks* hooks = nullptr, std::size_t* pos = nullptr);

// REDUCE semantics, for hooks that call another callable (a tensor subclass
// rebuilt by its base's function): `args` must be a tuple; an opaque
// callable gives an opaque object; a global goes through hooks->call, then the
// defaults.
ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args, Hooks* hooks);

}  // namespace c2am::util::pickle
