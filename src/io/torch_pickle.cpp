#include "io/torch_pickle.h"

#include "io/pickle_opcodes.h"

#include <tokenflow/error.h>

#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <unordered_map>

namespace tokenflow::io::pickle {

namespace {

// Limits far above what a checkpoint needs (some twenty values per tensor) that keep a hostile file
// from exhausting memory.
constexpr size_t kMaxValues = size_t{1} << 22;
constexpr size_t kMaxStack = size_t{1} << 22;
constexpr size_t kMaxMarks = size_t{1} << 16;
constexpr size_t kMaxMemo = size_t{1} << 22;
// BUILD copies its state's entries into the object, so one shared state dict built into many objects
// would multiply them; the copies are counted against this (a TorchScript module sets some ten
// attributes per submodule).
constexpr size_t kMaxBuiltAttributes = size_t{1} << 20;
constexpr size_t kMaxTensorDims = 64;


// What an allow-listed GLOBAL stands for.
enum class Builtin {
  OrderedDict,
  RebuildTensorV2,
  RebuildParameter,           // (data, requires_grad, backward_hooks[, state]) -> data
  RebuildFromTypeV2,          // (func, type, args, state) -> func(*args)
  StorageClass,               // named in persistent ids; `dtype` is its element type
  Dtype,
};

struct AllowedGlobal {
  Builtin builtin;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
};

const std::map<std::string, AllowedGlobal>& allowed_globals() {
  using c10::ScalarType;
  static const std::map<std::string, AllowedGlobal> table = {
      {"collections.OrderedDict", {Builtin::OrderedDict}},
      {"torch._utils._rebuild_tensor_v2", {Builtin::RebuildTensorV2}},
      {"torch._utils._rebuild_parameter", {Builtin::RebuildParameter}},
      {"torch._utils._rebuild_parameter_with_state", {Builtin::RebuildParameter}},
      {"torch._tensor._rebuild_from_type_v2", {Builtin::RebuildFromTypeV2}},
      {"torch.DoubleStorage", {Builtin::StorageClass, ScalarType::Double}},
      {"torch.FloatStorage", {Builtin::StorageClass, ScalarType::Float}},
      {"torch.HalfStorage", {Builtin::StorageClass, ScalarType::Half}},
      {"torch.BFloat16Storage", {Builtin::StorageClass, ScalarType::BFloat16}},
      {"torch.LongStorage", {Builtin::StorageClass, ScalarType::Long}},
      {"torch.IntStorage", {Builtin::StorageClass, ScalarType::Int}},
      {"torch.ShortStorage", {Builtin::StorageClass, ScalarType::Short}},
      {"torch.CharStorage", {Builtin::StorageClass, ScalarType::Char}},
      {"torch.ByteStorage", {Builtin::StorageClass, ScalarType::Byte}},
      {"torch.BoolStorage", {Builtin::StorageClass, ScalarType::Bool}},
      {"torch.ComplexFloatStorage", {Builtin::StorageClass, ScalarType::ComplexFloat}},
      {"torch.ComplexDoubleStorage", {Builtin::StorageClass, ScalarType::ComplexDouble}},
      {"torch.UntypedStorage", {Builtin::StorageClass, ScalarType::Byte}},
      {"torch.float64", {Builtin::Dtype, ScalarType::Double}},
      {"torch.float32", {Builtin::Dtype, ScalarType::Float}},
      {"torch.float16", {Builtin::Dtype, ScalarType::Half}},
      {"torch.bfloat16", {Builtin::Dtype, ScalarType::BFloat16}},
      {"torch.int64", {Builtin::Dtype, ScalarType::Long}},
      {"torch.int32", {Builtin::Dtype, ScalarType::Int}},
      {"torch.int16", {Builtin::Dtype, ScalarType::Short}},
      {"torch.int8", {Builtin::Dtype, ScalarType::Char}},
      {"torch.uint8", {Builtin::Dtype, ScalarType::Byte}},
      {"torch.bool", {Builtin::Dtype, ScalarType::Bool}},
  };
  return table;
}

// Dict keys compare as Python would for the key types a pickle can hold by value (str, int, bool,
// float, None); any other key is compared by identity.
bool by_value(const Value& v) {
  switch (v.kind) {
    case Value::Kind::None:
    case Value::Kind::Bool:
    case Value::Kind::Int:
    case Value::Kind::Float:
    case Value::Kind::String:
      return true;
    default:
      return false;
  }
}

bool is_integral(const Value& v) { return v.kind == Value::Kind::Int || v.kind == Value::Kind::Bool; }

struct KeyHash {
  size_t operator()(const Value* key) const {
    if (key->kind == Value::Kind::String) return std::hash<std::string>()(key->text);
    if (is_integral(*key)) return std::hash<int64_t>()(key->integer);
    if (key->kind == Value::Kind::Float) return std::hash<double>()(key->real);
    if (key->kind == Value::Kind::None) return 0;
    return std::hash<const Value*>()(key);
  }
};

struct KeyEqual {
  bool operator()(const Value* a, const Value* b) const {
    if (a == b) return true;
    if (!by_value(*a) || !by_value(*b)) return false;
    if (is_integral(*a) && is_integral(*b)) return a->integer == b->integer;
    if (a->kind != b->kind) return false;
    switch (a->kind) {
      case Value::Kind::String:
        return a->text == b->text;
      case Value::Kind::Float:
        return a->real == b->real;
      default:  // None
        return true;
    }
  }
};

using DictIndex = std::unordered_map<const Value*, size_t, KeyHash, KeyEqual>;

// Bounds-checked reads from the pickle bytes.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t position() const { return position_; }

  uint8_t u8() {
    require(1);
    return data_[position_++];
  }

  template <typename T>
  T little_endian() {
    require(sizeof(T));
    T value;
    std::memcpy(&value, data_ + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }

  double big_endian_double() {
    require(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[position_++];
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
  }

  std::string bytes(uint64_t count) {
    require(count);
    std::string text(reinterpret_cast<const char*>(data_ + position_), count);
    position_ += count;
    return text;
  }

  // The text up to the next newline, which is consumed.
  std::string line() {
    const void* newline = std::memchr(data_ + position_, '\n', size_ - position_);
    if (!newline) throw Error("pickle ends inside a GLOBAL name");
    const size_t length = static_cast<const uint8_t*>(newline) - (data_ + position_);
    std::string text = bytes(length);
    ++position_;
    return text;
  }

 private:
  void require(uint64_t count) const {
    if (count > size_ - position_) {
      throw Error("pickle truncated at byte " + std::to_string(position_) + " (needs " + std::to_string(count) +
                  " more bytes, " + std::to_string(size_ - position_) + " left)");
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

// Python's LONG1/LONG4 payload: little-endian two's complement.
bool decode_long(const std::string& bytes, int64_t& value) {
  if (bytes.size() > 8) return false;
  uint64_t bits = 0;
  for (size_t i = bytes.size(); i-- > 0;) bits = (bits << 8) | static_cast<uint8_t>(bytes[i]);
  if (!bytes.empty() && bytes.size() < 8 && (static_cast<uint8_t>(bytes.back()) & 0x80)) {
    bits |= ~uint64_t{0} << (8 * bytes.size());  // sign-extend
  }
  std::memcpy(&value, &bits, sizeof(value));
  return true;
}

std::string kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::None:
      return "None";
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Int:
      return "int";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "str";
    case Value::Kind::Tuple:
      return "tuple";
    case Value::Kind::List:
      return "list";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Tensor:
      return "tensor";
    case Value::Kind::Storage:
      return "storage";
    case Value::Kind::Global:
      return "global";
    case Value::Kind::Opaque:
      return "object";
  }
  return "value";
}

}  // namespace

const Value* Value::get(const std::string& key) const {
  for (const auto& [entry_key, entry_value] : entries) {
    if (entry_key->kind == Kind::String && entry_key->text == key) return entry_value;
  }
  return nullptr;
}

std::string Value::describe() const {
  return kind == Kind::Global || kind == Kind::Opaque ? text : kind_name(kind);
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size) : in_(data, size) {}

  Unpickled run() {
    none_ = make(Value::Kind::None);
    true_ = make(Value::Kind::Bool);
    true_->integer = 1;
    false_ = make(Value::Kind::Bool);
    while (true) {
      opcode_position_ = in_.position();
      const uint8_t opcode = in_.u8();
      if (opcode == STOP) break;
      step(opcode);
    }
    result_.root_ = pop();
    return std::move(result_);
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw Error("pickle byte " + std::to_string(opcode_position_) + ": " + problem);
  }

  void step(uint8_t opcode) {
    switch (opcode) {
      case PROTO:
        if (in_.u8() > 5) fail("unknown pickle protocol");
        return;
      case FRAME:
        in_.little_endian<uint64_t>();  // frames only group opcodes; the bytes are read as they come
        return;
      case MARK:
        if (marks_.size() >= kMaxMarks) fail("too many nested MARKs");
        marks_.push_back(stack_.size());
        return;
      case POP:
        if (stack_.size() > floor()) {
          stack_.pop_back();
        } else {
          pop_mark();
        }
        return;
      case POP_MARK:
        pop_mark();
        return;
      case DUP:
        push(top());
        return;

      case NONE:
        push(none_);
        return;
      case NEWTRUE:
        push(true_);
        return;
      case NEWFALSE:
        push(false_);
        return;
      case BININT:
        push_int(in_.little_endian<int32_t>());
        return;
      case BININT1:
        push_int(in_.u8());
        return;
      case BININT2:
        push_int(in_.little_endian<uint16_t>());
        return;
      case LONG1:
        push_long(in_.bytes(in_.u8()));
        return;
      case LONG4:
        push_long(in_.bytes(checked_length(in_.little_endian<int32_t>())));
        return;
      case BINFLOAT: {
        Value* value = make(Value::Kind::Float);
        value->real = in_.big_endian_double();
        push(value);
        return;
      }
      // Byte strings are kept as strings: nothing here interprets them.
      case SHORT_BINUNICODE:
      case SHORT_BINSTRING:
      case SHORT_BINBYTES:
        push_string(in_.bytes(in_.u8()));
        return;
      case BINUNICODE:
      case BINBYTES:
        push_string(in_.bytes(in_.little_endian<uint32_t>()));
        return;
      case BINSTRING:
        push_string(in_.bytes(checked_length(in_.little_endian<int32_t>())));
        return;
      case BINUNICODE8:
      case BINBYTES8:
        push_string(in_.bytes(in_.little_endian<uint64_t>()));
        return;

      case EMPTY_TUPLE:
        push(make(Value::Kind::Tuple));
        return;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const size_t count = opcode - TUPLE1 + 1;
        if (stack_.size() < floor() + count) fail("stack underflow");
        push_sequence(Value::Kind::Tuple, stack_.end() - count, stack_.end(), count);
        return;
      }
      case TUPLE: {
        const std::vector<Value*> items = pop_mark();
        push_sequence(Value::Kind::Tuple, items.begin(), items.end(), 0);
        return;
      }
      case EMPTY_LIST:
        push(make(Value::Kind::List));
        return;
      case LIST: {
        const std::vector<Value*> items = pop_mark();
        push_sequence(Value::Kind::List, items.begin(), items.end(), 0);
        return;
      }
      case APPEND: {
        Value* item = pop();
        append(*top(), {item});
        return;
      }
      case APPENDS: {
        const std::vector<Value*> items = pop_mark();
        append(*top(), items);
        return;
      }
      case EMPTY_DICT:
        push(make(Value::Kind::Dict));
        return;
      case DICT: {
        const std::vector<Value*> items = pop_mark();
        Value* dict = make(Value::Kind::Dict);
        set_items(*dict, items);
        push(dict);
        return;
      }
      case SETITEM: {
        Value* value = pop();
        Value* key = pop();
        set_items(*top(), {key, value});
        return;
      }
      case SETITEMS: {
        const std::vector<Value*> items = pop_mark();
        set_items(*top(), items);
        return;
      }

      case BINPUT:
        memo_put(in_.u8());
        return;
      case LONG_BINPUT:
        memo_put(in_.little_endian<uint32_t>());
        return;
      case MEMOIZE:
        memo_put(static_cast<uint32_t>(memo_.size()));
        return;
      case BINGET:
        push(memo_get(in_.u8()));
        return;
      case LONG_BINGET:
        push(memo_get(in_.little_endian<uint32_t>()));
        return;

      case GLOBAL: {
        const std::string module = in_.line();
        const std::string name = in_.line();
        push(global(module + "." + name));
        return;
      }
      case STACK_GLOBAL: {
        const Value* name = pop();
        const Value* module = pop();
        if (module->kind != Value::Kind::String || name->kind != Value::Kind::String) {
          fail("STACK_GLOBAL needs two strings");
        }
        push(global(module->text + "." + name->text));
        return;
      }
      case REDUCE:
      case NEWOBJ: {
        const Value* args = pop();
        const Value* callable = pop();
        push(call(*callable, *args, /*nested=*/false));
        return;
      }
      case NEWOBJ_EX: {
        pop();  // keyword arguments: no allow-listed class takes any
        const Value* args = pop();
        const Value* cls = pop();
        push(call(*cls, *args, /*nested=*/false));
        return;
      }
      case BUILD: {
        const Value* state = pop();
        build(*top(), *state);
        return;
      }
      case BINPERSID:
        push(persistent_load(*pop()));
        return;

      default: {
        static const char* hex = "0123456789abcdef";
        fail(std::string("unsupported opcode 0x") + hex[opcode >> 4] + hex[opcode & 15]);
      }
    }
  }

  // --- values and the stack ---

  Value* make(Value::Kind kind) {
    if (result_.values_.size() >= kMaxValues) fail("more than " + std::to_string(kMaxValues) + " values");
    Value& value = result_.values_.emplace_back();
    value.kind = kind;
    return &value;
  }

  // Every value lives in result_.values_, which this unpickler owns and is still building; the
  // containers hold const pointers only so that callers of unpickle() cannot change them.
  static Value* mutable_value(const Value* value) { return const_cast<Value*>(value); }

  // MARK starts a new frame of the stack (as Python's metastack does): ops may not reach below it.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  void push(Value* value) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(value);
  }

  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* value = stack_.back();
    stack_.pop_back();
    return value;
  }

  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }

  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
    return items;
  }

  template <typename Iterator>
  void push_sequence(Value::Kind kind, Iterator begin, Iterator end, size_t pop_count) {
    Value* sequence = make(kind);
    sequence->items.assign(begin, end);
    stack_.resize(stack_.size() - pop_count);
    push(sequence);
  }

  void push_int(int64_t number) {
    Value* value = make(Value::Kind::Int);
    value->integer = number;
    push(value);
  }

  void push_long(const std::string& bytes) {
    int64_t number = 0;
    if (decode_long(bytes, number)) {
      push_int(number);
    } else {
      Value* value = make(Value::Kind::Opaque);
      value->text = "int (wider than 64 bits)";
      push(value);
    }
  }

  void push_string(std::string text) {
    Value* value = make(Value::Kind::String);
    value->text = std::move(text);
    push(value);
  }

  uint64_t checked_length(int32_t length) const {
    if (length < 0) fail("negative length");
    return static_cast<uint64_t>(length);
  }

  void memo_put(uint32_t index) {
    Value* value = top();
    auto found = memo_.find(index);
    if (found != memo_.end()) {
      found->second = value;
      return;
    }
    if (memo_.size() >= kMaxMemo) fail("memo too large");
    memo_.emplace(index, value);
  }

  Value* memo_get(uint32_t index) const {
    auto found = memo_.find(index);
    if (found == memo_.end()) fail("memo entry " + std::to_string(index) + " used before it was defined");
    return found->second;
  }

  // --- containers ---

  void append(Value& target, const std::vector<Value*>& items) {
    if (target.kind == Value::Kind::Opaque) return;  // e.g. list items of an opaque class: discarded
    if (target.kind != Value::Kind::List) fail("APPEND to a " + target.describe());
    target.items.insert(target.items.end(), items.begin(), items.end());
  }

  // `items` alternates keys and values.
  void set_items(Value& target, const std::vector<Value*>& items) {
    if (target.kind == Value::Kind::Opaque) return;  // e.g. dict items of an opaque class: discarded
    if (target.kind != Value::Kind::Dict) fail("SETITEM on a " + target.describe());
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    DictIndex& index = dict_indexes_[&target];
    for (size_t i = 0; i < items.size(); i += 2) set_entry(target, index, items[i], items[i + 1]);
  }

  // A key already present keeps its place and gets the new value.
  static void set_entry(Value& target, DictIndex& index, const Value* key, const Value* value) {
    auto [position, inserted] = index.emplace(key, target.entries.size());
    if (inserted) {
      target.entries.emplace_back(key, value);
    } else {
      target.entries[position->second].second = value;
    }
  }

  // BUILD without __setstate__: Python updates the object's __dict__ from a state dict, or from both
  // dicts of a (state, slotstate) tuple. For an opaque object the entries are copied, as that update
  // would, and nothing is called; any other state (one meant for a __setstate__) is dropped. The
  // states of allow-listed values (an OrderedDict's `_metadata`, a Parameter's extras) are not
  // needed, so they are dropped too.
  void build(Value& target, const Value& state) {
    if (target.kind != Value::Kind::Opaque) return;
    if (state.kind == Value::Kind::Dict) {
      add_attributes(target, state);
    } else if (state.kind == Value::Kind::Tuple && state.items.size() == 2) {
      for (const Value* part : state.items) {
        if (part->kind == Value::Kind::Dict) add_attributes(target, *part);
      }
    }
  }

  void add_attributes(Value& target, const Value& state) {
    if (state.entries.size() > kMaxBuiltAttributes - built_attributes_) {
      fail("BUILD states hold more than " + std::to_string(kMaxBuiltAttributes) + " attributes in all");
    }
    built_attributes_ += state.entries.size();
    DictIndex& index = dict_indexes_[&target];
    for (const auto& [key, value] : state.entries) set_entry(target, index, key, value);
  }

  // --- classes and functions ---

  Value* global(const std::string& qualified_name) {
    const auto& table = allowed_globals();
    auto found = table.find(qualified_name);
    Value* value = make(found == table.end() ? Value::Kind::Opaque : Value::Kind::Global);
    value->text = qualified_name;
    if (found != table.end()) value->dtype = found->second.dtype;
    return value;
  }

  // REDUCE / NEWOBJ: only allow-listed functions do anything; an opaque class yields an opaque value.
  Value* call(const Value& callable, const Value& args, bool nested) {
    if (callable.kind == Value::Kind::Opaque) {
      Value* result = make(Value::Kind::Opaque);
      result->text = callable.text;
      return result;
    }
    if (callable.kind != Value::Kind::Global) fail("cannot call a " + callable.describe());
    if (args.kind != Value::Kind::Tuple) fail(callable.text + " called without an argument tuple");
    const auto& items = args.items;
    switch (allowed_globals().at(callable.text).builtin) {
      case Builtin::OrderedDict:
        if (!items.empty()) fail("collections.OrderedDict called with arguments");
        return make(Value::Kind::Dict);
      case Builtin::RebuildTensorV2:
        return rebuild_tensor(items);
      case Builtin::RebuildParameter:
        if (items.empty()) fail(callable.text + " called without arguments");
        return mutable_value(items[0]);
      case Builtin::RebuildFromTypeV2:
        // Only one level: a nested _rebuild_from_type_v2 would let the file drive the recursion.
        if (nested || items.size() < 3) fail("malformed " + callable.text + " call");
        return call(*items[0], *items[2], /*nested=*/true);
      case Builtin::StorageClass:
      case Builtin::Dtype:
        break;
    }
    fail("cannot call " + callable.text);
  }

  // BINPERSID: torch.save's ('storage', storage class, key, location, numel).
  Value* persistent_load(const Value& id) {
    const auto& items = id.items;
    const bool well_formed = id.kind == Value::Kind::Tuple && items.size() == 5 &&
                             items[0]->kind == Value::Kind::String && items[0]->text == "storage" &&
                             items[2]->kind == Value::Kind::String && items[3]->kind == Value::Kind::String &&
                             items[4]->kind == Value::Kind::Int;
    if (!well_formed) fail("persistent id is not ('storage', class, key, location, numel)");
    const Value& storage_class = *items[1];
    if (storage_class.kind == Value::Kind::Opaque) {  // a storage type not listed above: skipped
      Value* value = make(Value::Kind::Opaque);
      value->text = "storage of " + storage_class.text;
      return value;
    }
    if (storage_class.kind != Value::Kind::Global ||
        allowed_globals().at(storage_class.text).builtin != Builtin::StorageClass) {
      fail("persistent id names " + storage_class.describe() + ", not a storage class");
    }
    const int64_t numel = items[4]->integer;
    const auto element_size = static_cast<int64_t>(c10::elementSize(storage_class.dtype));
    if (numel < 0 || numel > std::numeric_limits<int64_t>::max() / element_size) fail("invalid storage size");
    Value* storage = make(Value::Kind::Storage);
    storage->tensor = std::make_unique<TensorRef>();
    storage->tensor->storage_key = items[2]->text;
    storage->tensor->dtype = storage_class.dtype;
    storage->tensor->storage_numel = numel;
    return storage;
  }

  std::vector<int64_t> int_tuple(const Value& tuple, const char* what) const {
    if (tuple.kind != Value::Kind::Tuple) fail(std::string("tensor ") + what + " is not a tuple");
    if (tuple.items.size() > kMaxTensorDims) fail(std::string("tensor has too many ") + what);
    std::vector<int64_t> numbers;
    for (const Value* item : tuple.items) {
      if (item->kind != Value::Kind::Int || item->integer < 0) fail(std::string("invalid tensor ") + what);
      numbers.push_back(item->integer);
    }
    return numbers;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  Value* rebuild_tensor(const std::vector<const Value*>& args) {
    if (args.size() < 4) fail("_rebuild_tensor_v2 called with " + std::to_string(args.size()) + " arguments");
    if (args[0]->kind == Value::Kind::Opaque) {  // its storage class is not supported: skipped
      Value* value = make(Value::Kind::Opaque);
      value->text = "tensor with " + args[0]->text;
      return value;
    }
    if (args[0]->kind != Value::Kind::Storage) fail("_rebuild_tensor_v2 without a storage");
    if (args[1]->kind != Value::Kind::Int || args[1]->integer < 0) fail("invalid tensor storage offset");
    TensorRef ref = *args[0]->tensor;
    ref.storage_offset = args[1]->integer;
    ref.sizes = int_tuple(*args[2], "sizes");
    ref.strides = int_tuple(*args[3], "strides");
    if (ref.sizes.size() != ref.strides.size()) fail("tensor sizes and strides differ in length");
    check_inside_storage(ref);
    Value* tensor = make(Value::Kind::Tensor);
    tensor->tensor = std::make_unique<TensorRef>(std::move(ref));
    return tensor;
  }

  // The last element a view reaches is offset + sum((size - 1) * stride); it must be in the storage.
  void check_inside_storage(const TensorRef& ref) const {
    int64_t last = ref.storage_offset;
    for (size_t d = 0; d < ref.sizes.size(); ++d) {
      if (ref.sizes[d] == 0) return;  // an empty tensor reads nothing
      int64_t reach = 0;
      if (__builtin_mul_overflow(ref.sizes[d] - 1, ref.strides[d], &reach) ||
          __builtin_add_overflow(last, reach, &last)) {
        fail("tensor view overflows");
      }
    }
    if (last >= ref.storage_numel) fail("tensor view reaches past its storage of " + std::to_string(ref.storage_numel) + " elements");
  }

  ByteReader in_;
  size_t opcode_position_ = 0;
  Unpickled result_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value*> memo_;
  std::unordered_map<const Value*, DictIndex> dict_indexes_;
  size_t built_attributes_ = 0;
  Value* none_ = nullptr;
  Value* true_ = nullptr;
  Value* false_ = nullptr;
};

Unpickled unpickle(const void* data, size_t size) {
  return Unpickler(static_cast<const uint8_t*>(data), size).run();
}

}  // namespace tokenflow::io::pickle
