#pragma once
// Writing checkpoints as torch.save writes them, so that Python's torch.load and io::load_state_dict
// both read them: a zip archive (LibTorch's own writer: stored records aligned to 64 bytes, with
// CRCs) of `archive/data.pkl`, a protocol-2 pickle opcode for opcode like the one torch.save emits,
// and one record `archive/data/<key>` per tensor with its bytes, plus `version` and `byteorder`.
//
// What is saved is described by a SaveValue tree of the Python values a training checkpoint holds:
//
//   SaveValue checkpoint = SaveValue::dict();
//   checkpoint.set("model", SaveValue::ordered_dict(state)).set("steps", 5);
//   checkpoint.set("args", SaveValue::argparse_namespace().set("lr", 1e-4).set("resume", nullptr));
//   save_torch_archive("checkpoint.pt", checkpoint);
#include "io/state_dict.h"

#include <tokenflow/error.h>

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace tokenflow::io {

namespace pickle {

class SaveValue {
 public:
  enum class Kind {
    None,
    Bool,
    Int,
    Float,
    String,
    Tuple,
    List,
    Dict,         // dict
    OrderedDict,  // collections.OrderedDict, as PyTorch's state dicts are
    Namespace,    // argparse.Namespace: attribute names and values
    Tensor,
  };

  // Scalars convert implicitly with their Python type following the C++ type: `0` is an int, `0.0` a
  // float, `false` a bool, nullptr None.
  SaveValue() = default;
  SaveValue(std::nullptr_t) {}
  template <typename Number, std::enable_if_t<std::is_arithmetic_v<Number>, int> = 0>
  SaveValue(Number number) {
    if constexpr (std::is_same_v<Number, bool>) {
      kind_ = Kind::Bool;
      integer_ = number;
    } else if constexpr (std::is_integral_v<Number>) {
      if constexpr (std::is_unsigned_v<Number>) {
        if (static_cast<uint64_t>(number) > uint64_t{INT64_MAX}) {
          throw Error("cannot save the integer " + std::to_string(number) + ": larger than int64");
        }
      }
      kind_ = Kind::Int;
      integer_ = number;
    } else {
      kind_ = Kind::Float;
      real_ = number;
    }
  }
  SaveValue(std::string text) : kind_(Kind::String), text_(std::move(text)) {}
  SaveValue(const char* text) : SaveValue(std::string(text)) {}
  // Saved as a contiguous CPU copy of its data (no copy when it already is one).
  SaveValue(torch::Tensor tensor) : kind_(Kind::Tensor), tensor_(std::move(tensor)) {}

  static SaveValue tuple(std::vector<SaveValue> items = {});
  static SaveValue list(std::vector<SaveValue> items = {});
  static SaveValue dict();
  static SaveValue ordered_dict();
  // A state dict as nn.Module.state_dict() returns it: an OrderedDict of the tensors in `state.names` order.
  static SaveValue ordered_dict(const StateDict& state);
  static SaveValue argparse_namespace();

  // Sets an entry of a Dict or OrderedDict, or an attribute of a Namespace (string keys only). As in
  // Python, a new key goes last and an existing one keeps its place. Returns *this, for chaining.
  SaveValue& set(const std::string& key, SaveValue value);
  SaveValue& set(int64_t key, SaveValue value);
  // Appends to a List.
  SaveValue& append(SaveValue item);

  Kind kind() const { return kind_; }
  int64_t integer() const { return integer_; }                                       // Int; Bool as 0 or 1
  double real() const { return real_; }                                              // Float
  const std::string& text() const { return text_; }                                  // String
  const std::vector<SaveValue>& items() const { return items_; }                     // Tuple, List
  const std::vector<std::pair<SaveValue, SaveValue>>& entries() const { return entries_; }  // keys: String or Int
  const torch::Tensor& tensor() const { return tensor_; }                            // Tensor

 private:
  explicit SaveValue(Kind kind) : kind_(kind) {}
  SaveValue& set_entry(SaveValue key, SaveValue value);

  Kind kind_ = Kind::None;
  int64_t integer_ = 0;
  double real_ = 0;
  std::string text_;
  std::vector<SaveValue> items_;
  std::vector<std::pair<SaveValue, SaveValue>> entries_;
  torch::Tensor tensor_;
};

}  // namespace pickle

// Writes `root` as torch.save(root, path) would (tensors that share a storage get one storage each),
// through `path`.tmp renamed over `path`, so no half-written file remains. Throws
// tokenflow::Error("<path>: <problem>") for an undefined or sparse tensor, or one of a dtype without a
// storage class here (only the real and bool dtypes have one), a string that is not UTF-8, or a
// failed write.
void save_torch_archive(const std::string& path, const pickle::SaveValue& root);

}  // namespace tokenflow::io
