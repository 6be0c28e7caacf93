#pragma once
// Builds pickle byte strings opcode by opcode, for hand-made (and hostile) test inputs.
#include <cstdint>
#include <string>

namespace tokenflow::io::test {

class PickleBytes {
 public:
  PickleBytes() { op(0x80).byte(2); }  // PROTO 2

  PickleBytes& op(uint8_t opcode) { return byte(opcode); }
  PickleBytes& byte(uint8_t value) {
    bytes_.push_back(static_cast<char>(value));
    return *this;
  }
  PickleBytes& u32(uint32_t value) {
    for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  PickleBytes& string(const std::string& text) {  // BINUNICODE
    op('X').u32(static_cast<uint32_t>(text.size()));
    bytes_ += text;
    return *this;
  }
  PickleBytes& global(const std::string& module, const std::string& name) {
    op('c');
    bytes_ += module + "\n" + name + "\n";
    return *this;
  }
  PickleBytes& int1(uint8_t value) { return op('K').byte(value); }
  PickleBytes& mark() { return op('('); }
  PickleBytes& tuple() { return op('t'); }
  PickleBytes& empty_tuple() { return op(')'); }
  PickleBytes& empty_dict() { return op('}'); }
  PickleBytes& setitem() { return op('s'); }
  PickleBytes& setitems() { return op('u'); }
  PickleBytes& reduce() { return op('R'); }
  PickleBytes& put(uint8_t index) { return op('q').byte(index); }
  PickleBytes& get(uint8_t index) { return op('h').byte(index); }
  PickleBytes& stop() { return op('.'); }

  // _rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, (size,), (1,), False, OrderedDict())
  PickleBytes& float_tensor(const std::string& key, uint8_t numel, uint8_t offset, uint8_t size) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().string("storage").global("torch", "FloatStorage").string(key).string("cpu").int1(numel).tuple().op('Q');
    int1(offset).int1(size).op(0x85).int1(1).op(0x85).op(0x89).global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }

  const std::string& str() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace tokenflow::io::test
