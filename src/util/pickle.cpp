// Implements: the pickle VM (see pickle.h): the opcode loop, the stack, marks
// and memo, and the default meaning of REDUCE, NEWOBJ and BUILD.
#include "util/pickle.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace c2am::util::pickle {

ValuePtr make(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

ValuePtr make_int(std::int64_t i) {
  auto v = make(Kind::kInt);
  v->integer = i;
  return v;
}

ValuePtr make_text(Kind kind, std::string text) {
  auto v = make(kind);
  v->text = std::move(text);
  return v;
}

ValuePtr make_object(std::string name, std::any native) {
  auto v = make_text(Kind::kObject, std::move(name));
  v->native = std::move(native);
  return v;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kBigInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kGlobal:
      return "global";
    case Kind::kObject:
      return "object";
  }
  return "?";
}

ValuePtr find(const Value& dict, std::string_view key) {
  if (dict.kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : dict.entries) {
    if ((k->kind == Kind::kStr || k->kind == Kind::kBytes) && k->text == key) return v;
  }
  return nullptr;
}

std::vector<std::string> str_keys(const Value& dict) {
  std::vector<std::string> out;
  for (const auto& entry : dict.entries) {
    const Value& k = *entry.first;
    if (k.kind == Kind::kStr || k.kind == Kind::kBytes) out.push_back(k.text);
  }
  return out;
}

std::vector<std::int64_t> int_list(const Value& v, const std::string& what) {
  if (v.kind != Kind::kTuple && v.kind != Kind::kList)
    throw PickleError(fmt::format("{} is a Python {}, not a tuple of ints", what, kind_name(v.kind)));
  std::vector<std::int64_t> out;
  for (const ValuePtr& item : v.items) {
    if (item->kind != Kind::kInt)
      throw PickleError(fmt::format("{} holds a Python {}, not an int", what, kind_name(item->kind)));
    out.push_back(item->integer);
  }
  return out;
}

PickleError::PickleError(std::string detail, std::size_t offset)
    : Error(offset == kNoOffset ? detail : fmt::format("{} (pickle byte {})", detail, offset)),
      detail_(std::move(detail)),
      offset_(offset) {}

ValuePtr Hooks::call(const std::string&, const std::vector<ValuePtr>&) { return nullptr; }
ValuePtr Hooks::new_object(const std::string&, const std::vector<ValuePtr>&) { return nullptr; }
ValuePtr Hooks::persistent_load(const ValuePtr&) {
  throw PickleError("the pickle refers to a persistent id, which this reader does not resolve");
}
bool Hooks::build(Value&, const ValuePtr&) { return false; }

namespace {

[[noreturn]] void fail(const std::string& what) { throw PickleError(what); }

bool is_dict_class(const std::string& name) {
  return name == "collections.OrderedDict" || name == "builtins.dict" || name == "collections.defaultdict";
}

ValuePtr default_call(const std::string& name, const std::vector<ValuePtr>& args) {
  if (is_dict_class(name)) {
    auto dict = make(Kind::kDict);
    // OrderedDict([(k, v), ...]); pickles themselves pass () and use SETITEMS.
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
  auto object = make_object(name);
  object->items = args;
  return object;
}

class Machine {
 public:
  Machine(std::string_view bytes, size_t pos, Hooks* hooks) : bytes_(bytes), pos_(pos), hooks_(hooks) {}

  ValuePtr run() {
    try {
      return loop();
    } catch (const PickleError& e) {
      if (e.offset() != PickleError::kNoOffset) throw;
      throw PickleError(e.detail(), op_pos_);
    }
  }
  size_t position() const { return pos_; }
  // Every value the machine still holds (stack and memo), and every
  // container it changed after creating it that is still alive: a cycle
  // needs such a change (APPEND, SETITEM, BUILD on a value the memo gave
  // back), so every cycle, also one the stack has dropped, passes through
  // one of these. For release_graph.
  std::vector<ValuePtr> held() const {
    std::vector<ValuePtr> roots(stack_.begin(), stack_.end());
    for (const auto& [id, v] : memo_) roots.push_back(v);
    for (const auto& w : mutated_) {
      if (ValuePtr v = w.lock()) roots.push_back(std::move(v));
    }
    return roots;
  }

 private:
  ValuePtr loop();

  std::string_view read_bytes(uint64_t n) {
    if (n > bytes_.size() - pos_) fail("the pickle ends inside an opcode (truncated pickle)");
    const std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  template <typename T>
  T read_le() {  // unsigned little-endian integer
    const std::string_view b = read_bytes(sizeof(T));
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(static_cast<T>(static_cast<uint8_t>(b[i])) << (8 * i));
    return v;
  }
  std::string read_line() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("the pickle ends inside a GLOBAL name");
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
  static ValuePtr tuple_of(std::vector<ValuePtr> items) {
    auto v = make(Kind::kTuple);
    v->items = std::move(items);
    return v;
  }

  void set_items(const ValuePtr& target, const std::vector<ValuePtr>& flat);
  void append(const ValuePtr& target, const std::vector<ValuePtr>& items);
  ValuePtr new_object(const ValuePtr& cls, const ValuePtr& args);
  void build(const ValuePtr& target, const ValuePtr& state);

  std::string_view bytes_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  Hooks* hooks_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::vector<std::weak_ptr<Value>> mutated_;  // see held()
};

ValuePtr Machine::loop() {
  while (true) {
    op_pos_ = pos_;
    if (pos_ >= bytes_.size()) fail("the pickle ends without STOP (truncated pickle)");
    const auto op = static_cast<uint8_t>(bytes_[pos_++]);
    switch (op) {
      case 0x80:
        read_le<uint8_t>();
        break;  // PROTO
      case 0x95:
        read_le<uint64_t>();
        break;  // FRAME: only groups the bytes that follow
      case '.':
        return pop();  // STOP
      case '(':
        marks_.push_back(stack_.size());
        break;  // MARK
      case '0':
        pop();
        break;  // POP
      case '1':
        pop_mark();
        break;  // POP_MARK
      case '2':
        push(top());
        break;     // DUP
      case 'c': {  // GLOBAL
        std::string module = read_line();
        push(make_text(Kind::kGlobal, module + "." + read_line()));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const ValuePtr name = pop();
        const ValuePtr module = pop();
        const auto is_text = [](const Value& v) { return v.kind == Kind::kStr || v.kind == Kind::kBytes; };
        if (!is_text(*name) || !is_text(*module)) fail("STACK_GLOBAL needs two strings");
        push(make_text(Kind::kGlobal, module->text + "." + name->text));
        break;
      }
      case 'q':
        memo_put(read_le<uint8_t>());
        break;  // BINPUT
      case 'r':
        memo_put(read_le<uint32_t>());
        break;  // LONG_BINPUT
      case 0x94:
        memo_put(memo_.size());
        break;  // MEMOIZE
      case 'h':
        push(memo_get(read_le<uint8_t>()));
        break;  // BINGET
      case 'j':
        push(memo_get(read_le<uint32_t>()));
        break;  // LONG_BINGET
      case '}':
        push(make(Kind::kDict));
        break;  // EMPTY_DICT
      case ']':
        push(make(Kind::kList));
        break;  // EMPTY_LIST
      case ')':
        push(make(Kind::kTuple));
        break;  // EMPTY_TUPLE
      case 't':
        push(tuple_of(pop_mark()));
        break;      // TUPLE
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
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
      case 'J':
        push(make_int(static_cast<int32_t>(read_le<uint32_t>())));
        break;  // BININT
      case 'K':
        push(make_int(read_le<uint8_t>()));
        break;  // BININT1
      case 'M':
        push(make_int(read_le<uint16_t>()));
        break;  // BININT2
      case 0x8a:
        push(read_long(read_le<uint8_t>()));
        break;  // LONG1
      case 0x8b:
        push(read_long(read_le<uint32_t>()));
        break;     // LONG4
      case 'G': {  // BINFLOAT
        auto v = make(Kind::kFloat);
        v->real = read_binfloat();
        push(v);
        break;
      }
      case 'N':
        push(make(Kind::kNone));
        break;      // NONE
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        auto v = make(Kind::kBool);
        v->boolean = op == 0x88;
        push(v);
        break;
      }
      case 'X':
        push(make_text(Kind::kStr, std::string(read_bytes(read_le<uint32_t>()))));
        break;  // BINUNICODE
      case 0x8c:
        push(make_text(Kind::kStr, std::string(read_bytes(read_le<uint8_t>()))));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        push(make_text(Kind::kStr, std::string(read_bytes(read_le<uint64_t>()))));
        break;   // BINUNICODE8
      case 'T':  // BINSTRING
      case 'B':
        push(make_text(Kind::kBytes, std::string(read_bytes(read_le<uint32_t>()))));
        break;   // BINBYTES
      case 'U':  // SHORT_BINSTRING
      case 'C':
        push(make_text(Kind::kBytes, std::string(read_bytes(read_le<uint8_t>()))));
        break;    // SHORT_BINBYTES
      case 0x8e:  // BINBYTES8
      case 0x96:
        push(make_text(Kind::kBytes, std::string(read_bytes(read_le<uint64_t>()))));
        break;    // BYTEARRAY8
      case 0x97:  // NEXT_BUFFER
      case 0x98:  // READONLY_BUFFER
        fail(
            "the pickle uses out-of-band buffers (protocol 5 buffer_callback), which cannot be read from one "
            "file");
      case 'R': {  // REDUCE
        const ValuePtr args = pop();
        const ValuePtr callable = pop();
        push(reduce(callable, args, hooks_));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        const ValuePtr args = pop();
        const ValuePtr cls = pop();
        push(new_object(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        pop();
        const ValuePtr args = pop();
        const ValuePtr cls = pop();
        push(new_object(cls, args));
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state)
        const ValuePtr state = pop();
        build(top(), state);
        break;
      }
      case 'Q': {  // BINPERSID
        const ValuePtr pid = pop();
        if (hooks_ == nullptr)
          fail("the pickle refers to a persistent id, which this reader does not resolve");
        push(hooks_->persistent_load(pid));
        break;
      }
      default:
        fail(fmt::format("unsupported pickle opcode 0x{:02x}", op));
    }
  }
}

// LONG1/LONG4: little-endian two's complement of n bytes.
ValuePtr Machine::read_long(uint64_t n) {
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
  if (!fits) return make_text(Kind::kBigInt, std::string(b));
  return make_int(static_cast<int64_t>(u));
}

void Machine::set_items(const ValuePtr& target, const std::vector<ValuePtr>& flat) {
  if (flat.size() % 2 != 0) fail("SETITEMS with an odd number of items");
  if (target->kind != Kind::kDict && target->kind != Kind::kObject) {
    fail(fmt::format("SETITEM on a {}", kind_name(target->kind)));
  }
  for (size_t i = 0; i < flat.size(); i += 2) target->entries.emplace_back(flat[i], flat[i + 1]);
  if (!flat.empty()) mutated_.push_back(target);
}

void Machine::append(const ValuePtr& target, const std::vector<ValuePtr>& items) {
  if (target->kind == Kind::kObject) return;  // a list subclass of an unknown class: its items are dropped
  if (target->kind != Kind::kList) fail(fmt::format("APPEND on a {}", kind_name(target->kind)));
  target->items.insert(target->items.end(), items.begin(), items.end());
  if (!items.empty()) mutated_.push_back(target);
}

ValuePtr Machine::new_object(const ValuePtr& cls, const ValuePtr& args) {
  const std::vector<ValuePtr> none;
  const std::vector<ValuePtr>& a = args->kind == Kind::kTuple ? args->items : none;
  if (cls->kind != Kind::kGlobal) return make_object(kind_name(cls->kind));
  if (hooks_ != nullptr) {
    if (ValuePtr v = hooks_->new_object(cls->text, a)) return v;
  }
  if (cls->text == "collections.OrderedDict" || cls->text == "builtins.dict") return make(Kind::kDict);
  auto object = make_object(cls->text);
  object->items = a;
  return object;
}

void Machine::build(const ValuePtr& target, const ValuePtr& state) {
  if (hooks_ != nullptr && hooks_->build(*target, state)) {
    mutated_.push_back(target);  // the hook may keep the state in it
    return;
  }
  switch (target->kind) {
    case Kind::kDict:  // an OrderedDict's _metadata, a dict subclass's attributes: dropped
    case Kind::kList:
      return;
    case Kind::kObject:
      target->state = state;
      mutated_.push_back(target);
      return;
    default:
      fail(fmt::format("BUILD on a {}", kind_name(target->kind)));
  }
}

}  // namespace

ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args, Hooks* hooks) {
  if (args->kind != Kind::kTuple)
    fail(fmt::format("REDUCE arguments are a {}, not a tuple", kind_name(args->kind)));
  if (callable->kind == Kind::kObject) return make_object(callable->text);
  if (callable->kind != Kind::kGlobal) fail(fmt::format("REDUCE calls a {}", kind_name(callable->kind)));
  if (hooks != nullptr) {
    if (ValuePtr v = hooks->call(callable->text, args->items)) return v;
  }
  return default_call(callable->text, args->items);
}

namespace {

// The values a value refers to.
template <typename F>
void for_each_child(const Value& v, F&& f) {
  for (const ValuePtr& c : v.items) f(c);
  for (const auto& [k, c] : v.entries) {
    f(k);
    f(c);
  }
  if (v.state) f(v.state);
}

// Empties every container reachable from `roots`, so that values referring to
// each other (a cycle through the memo, maybe dropped from the stack) are
// freed with their last outside reference instead of keeping each other
// alive. Only on a refused pickle: nothing of it is handed out. Iterative: no
// recursion on depth.
void release_graph(std::vector<ValuePtr> roots) {
  std::unordered_set<const Value*> seen;
  std::vector<ValuePtr> all;
  while (!roots.empty()) {
    ValuePtr v = std::move(roots.back());
    roots.pop_back();
    if (!v || !seen.insert(v.get()).second) continue;
    for_each_child(*v, [&](const ValuePtr& c) { roots.push_back(c); });
    all.push_back(std::move(v));
  }
  // Children first would recurse in their destructors; emptying every
  // container, then dropping the owners one by one, never nests.
  std::vector<ValuePtr> children;
  for (const ValuePtr& v : all) {
    for (ValuePtr& c : v->items) children.push_back(std::move(c));
    for (auto& [k, c] : v->entries) {
      children.push_back(std::move(k));
      children.push_back(std::move(c));
    }
    if (v->state) children.push_back(std::move(v->state));
    v->items.clear();
    v->entries.clear();
  }
}

// Why the values reachable from `roots` cannot stand: one refers to itself (a
// cycle: shared_ptrs would never free it), or they nest deeper than
// kMaxDepth (destroying them would recurse that deep); "" when fine.
constexpr size_t kMaxDepth = 1000;
std::string graph_problem(const std::vector<ValuePtr>& roots) {
  enum class Mark { kOpen, kDone };
  std::unordered_map<const Value*, Mark> mark;
  struct Frame {
    const Value* v;
    std::vector<const Value*> children;
    size_t next = 0;
  };
  std::vector<Frame> path;
  auto enter = [&](const Value* v) {
    mark[v] = Mark::kOpen;
    Frame f{v, {}, 0};
    for_each_child(*v, [&](const ValuePtr& c) {
      if (c) f.children.push_back(c.get());
    });
    path.push_back(std::move(f));
  };
  for (const ValuePtr& root : roots) {
    if (!root || mark.count(root.get()) != 0) continue;
    enter(root.get());
    while (!path.empty()) {
      if (path.size() > kMaxDepth)
        return fmt::format("its value nests more than {} containers deep, which c2am does not read", kMaxDepth);
      Frame& f = path.back();
      if (f.next == f.children.size()) {
        mark[f.v] = Mark::kDone;
        path.pop_back();
        continue;
      }
      const Value* c = f.children[f.next++];
      const auto it = mark.find(c);
      if (it == mark.end()) {
        enter(c);
      } else if (it->second == Mark::kOpen) {
        return fmt::format("its value contains itself (a {} that refers back to itself), which c2am does not read",
                           kind_name(c->kind));
      }
    }
  }
  return {};
}

}  // namespace

ValuePtr load(std::string_view bytes, Hooks* hooks, std::size_t* pos) {
  Machine m(bytes, pos != nullptr ? std::min(*pos, bytes.size()) : 0, hooks);
  ValuePtr v;
  try {
    v = m.run();
  } catch (...) {
    release_graph(m.held());  // what the failed pickle built may refer to itself
    throw;
  }
  // A cycle anywhere in what the pickle built (returned or not: dropped from
  // the stack, left in the memo) is refused and broken up; without one,
  // whatever is not returned frees itself with the machine.
  std::vector<ValuePtr> roots{v};  // first: the depth that counts is the returned value's
  for (ValuePtr& h : m.held()) roots.push_back(std::move(h));
  if (const std::string problem = graph_problem(roots); !problem.empty()) {
    release_graph(std::move(roots));
    throw PickleError(problem);
  }
  if (pos != nullptr) *pos = m.position();
  return v;
}

}  // namespace c2am::util::pickle
