#pragma once
// A reader for the pickles that torch.save and torch.jit.save write (`<archive>/data.pkl`, protocol 2)
// that never runs anything from the file. GLOBAL names are looked up in a short allow-list
// (OrderedDict, the tensor rebuild functions, the storage classes, dtypes); any other class becomes an
// inert opaque value, and so does whatever calling it would produce. Building an opaque object (BUILD)
// only records the attributes its state sets, which is where a TorchScript module keeps its
// parameters and submodules. Tensors stay references into the archive's storage records, so a caller
// reads only the ones it wants.
//
// The input is untrusted: every read is bounds-checked, the stack, memo, value count and attributes
// copied by BUILD are limited, and any problem throws tokenflow::Error with a one-line message
// (without the file name).
#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tokenflow::io::pickle {

// A tensor as torch._utils._rebuild_tensor_v2 describes it: a strided view into the storage record
// `data/<storage_key>`. The unpickler has checked that the view lies inside `storage_numel` elements.
struct TensorRef {
  std::string storage_key;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  int64_t storage_numel = 0;
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

struct Value {
  enum class Kind {
    None,
    Bool,
    Int,
    Float,
    String,   // str, and bytes kept as they are
    Tuple,
    List,
    Dict,     // dict and collections.OrderedDict, in insertion order
    Tensor,
    Storage,  // a persistent id ('storage', class, key, location, numel) before it is wrapped in a tensor
    Global,   // an allow-listed class or function
    Opaque,   // anything else: `text` names the class, nothing of it was run
  };

  Kind kind = Kind::None;
  int64_t integer = 0;                                         // Int; Bool as 0 or 1
  double real = 0;                                             // Float
  std::string text;                                            // String; the dotted name of a Global or Opaque
  c10::ScalarType dtype = c10::ScalarType::Undefined;          // Global storage classes and dtypes
  std::vector<const Value*> items;                             // Tuple, List
  std::vector<std::pair<const Value*, const Value*>> entries;  // Dict; Opaque: the attributes BUILD set
  std::unique_ptr<TensorRef> tensor;                           // Tensor; Storage (key, dtype, numel only)

  // The entry of a Dict (or attribute of an Opaque object) under the string key `key`, or nullptr.
  const Value* get(const std::string& key) const;
  // A short description for messages: "dict", "argparse.Namespace", ...
  std::string describe() const;
};

// Everything an unpickled file holds. Values point at each other (memoised values are shared and may
// even form cycles), so they all live here and are freed together without recursion.
class Unpickled {
 public:
  const Value& root() const { return *root_; }

 private:
  friend class Unpickler;
  std::deque<Value> values_;
  const Value* root_ = nullptr;
};

// Parses a complete pickle (up to its STOP opcode).
Unpickled unpickle(const void* data, size_t size);

}  // namespace tokenflow::io::pickle
