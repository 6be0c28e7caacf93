#include "io/torch_save.h"

#include <tokenflow/error.h>

#include "io/files.h"
#include "io/pickle_opcodes.h"

#include <c10/util/strides.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>

namespace tokenflow::io {

namespace pickle {

namespace {

std::string kind_name(SaveValue::Kind kind) {
  switch (kind) {
    case SaveValue::Kind::None:
      return "None";
    case SaveValue::Kind::Bool:
      return "bool";
    case SaveValue::Kind::Int:
      return "int";
    case SaveValue::Kind::Float:
      return "float";
    case SaveValue::Kind::String:
      return "str";
    case SaveValue::Kind::Tuple:
      return "tuple";
    case SaveValue::Kind::List:
      return "list";
    case SaveValue::Kind::Dict:
      return "dict";
    case SaveValue::Kind::OrderedDict:
      return "collections.OrderedDict";
    case SaveValue::Kind::Namespace:
      return "argparse.Namespace";
    case SaveValue::Kind::Tensor:
      return "tensor";
  }
  return "value";
}


// pickle writes the items of a dict or list in batches of this many (its _BATCHSIZE).
constexpr size_t kBatchSize = 1000;

// The legacy storage class that torch.save names in a tensor's persistent id, or nullptr.
const char* storage_class(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Double:
      return "DoubleStorage";
    case c10::ScalarType::Float:
      return "FloatStorage";
    case c10::ScalarType::Half:
      return "HalfStorage";
    case c10::ScalarType::BFloat16:
      return "BFloat16Storage";
    case c10::ScalarType::Long:
      return "LongStorage";
    case c10::ScalarType::Int:
      return "IntStorage";
    case c10::ScalarType::Short:
      return "ShortStorage";
    case c10::ScalarType::Char:
      return "CharStorage";
    case c10::ScalarType::Byte:
      return "ByteStorage";
    case c10::ScalarType::Bool:
      return "BoolStorage";
    default:
      return nullptr;
  }
}

// Python decodes BINUNICODE as UTF-8 (letting encoded surrogates pass), so other bytes would not load.
bool is_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;      // bytes in the character
    uint32_t smallest;  // the smallest code point that needs that many (a smaller one is overlong)
    if (lead >= 0xc0 && lead < 0xe0) {
      length = 2;
      smallest = 0x80;
    } else if (lead >= 0xe0 && lead < 0xf0) {
      length = 3;
      smallest = 0x800;
    } else if (lead >= 0xf0 && lead < 0xf8) {
      length = 4;
      smallest = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    uint32_t code = lead & (0x7f >> length);
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < smallest || code > 0x10ffff) return false;
    i += length;
  }
  return true;
}

// Emits the pickle of a SaveValue opcode for opcode as Python's pickler does under torch.save
// (protocol 2, which torch.save uses), collecting the tensors whose bytes become the storage records.
class TorchPickler {
 public:
  std::string pickle(const SaveValue& root) {
    op(PROTO).byte(2);
    save(root);
    op(STOP);
    return std::move(out_);
  }

  // The contiguous CPU tensors whose bytes are the records data/0, data/1, ... in that order.
  const std::vector<torch::Tensor>& storages() const { return storages_; }

 private:
  void save(const SaveValue& value) {
    switch (value.kind()) {
      case SaveValue::Kind::None:
        op(NONE);
        return;
      case SaveValue::Kind::Bool:
        op(value.integer() ? NEWTRUE : NEWFALSE);
        return;
      case SaveValue::Kind::Int:
        save_int(value.integer());
        return;
      case SaveValue::Kind::Float:
        save_float(value.real());
        return;
      case SaveValue::Kind::String:
        save_string(value.text());
        return;
      case SaveValue::Kind::Tuple:
        save_tuple(value.items());
        return;
      case SaveValue::Kind::List:
        op(EMPTY_LIST);
        memoize();
        save_items(value.items());
        return;
      case SaveValue::Kind::Dict:
        op(EMPTY_DICT);
        memoize();
        save_entries(value.entries());
        return;
      case SaveValue::Kind::OrderedDict:
        // OrderedDict.__reduce__: called without arguments, then filled item by item.
        save_global("collections", "OrderedDict");
        op(EMPTY_TUPLE).op(REDUCE);
        memoize();
        save_entries(value.entries());
        return;
      case SaveValue::Kind::Namespace:
        // object.__reduce_ex__(2): copyreg.__newobj__, then the instance __dict__ as BUILD's state
        // (which an object without attributes does not have).
        save_global("argparse", "Namespace");
        op(EMPTY_TUPLE).op(NEWOBJ);
        memoize();
        if (value.entries().empty()) return;
        op(EMPTY_DICT);
        memoize();
        save_entries(value.entries());
        op(BUILD);
        return;
      case SaveValue::Kind::Tensor:
        save_tensor(value.tensor());
        return;
    }
  }

  void save_int(int64_t value) {
    if (value >= 0 && value <= 0xff) {
      op(BININT1).byte(static_cast<uint8_t>(value));
    } else if (value >= 0 && value <= 0xffff) {
      op(BININT2).little_endian(static_cast<uint16_t>(value));
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      op(BININT).little_endian(static_cast<int32_t>(value));
    } else {
      // LONG1: the shortest little-endian two's complement, as Python's encode_long gives it.
      uint8_t bytes[8];
      std::memcpy(bytes, &value, sizeof(bytes));
      size_t length = sizeof(bytes);
      while (length > 1 && ((bytes[length - 1] == 0x00 && !(bytes[length - 2] & 0x80)) ||
                            (bytes[length - 1] == 0xff && (bytes[length - 2] & 0x80)))) {
        --length;
      }
      op(LONG1).byte(static_cast<uint8_t>(length));
      out_.append(reinterpret_cast<const char*>(bytes), length);
    }
  }

  void save_float(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    op(BINFLOAT);
    for (int shift = 56; shift >= 0; shift -= 8) byte(static_cast<uint8_t>(bits >> shift));  // big-endian
  }

  // Strings are immutable, so equal ones may share a memo entry (Python shares them when they are the
  // same object, such as the 'storage' and 'cpu' of every tensor).
  void save_string(const std::string& text) {
    if (auto memoised = memoised_strings_.find(text); memoised != memoised_strings_.end()) {
      get(memoised->second);
      return;
    }
    if (!is_utf8(text)) throw Error("cannot save a string that is not UTF-8");
    if (text.size() > UINT32_MAX) throw Error("cannot save a string of 4 GiB or more in protocol 2");
    op(BINUNICODE).little_endian(static_cast<uint32_t>(text.size()));
    out_ += text;
    memoised_strings_.emplace(text, memoize());
  }

  void save_global(const std::string& module, const std::string& name) {
    const std::string line = module + "\n" + name + "\n";
    if (auto memoised = memoised_globals_.find(line); memoised != memoised_globals_.end()) {
      get(memoised->second);
      return;
    }
    op(GLOBAL);
    out_ += line;
    memoised_globals_.emplace(line, memoize());
  }

  void save_tuple(const std::vector<SaveValue>& items) {
    if (items.empty()) {
      op(EMPTY_TUPLE);
      return;
    }
    if (items.size() > 3) op(MARK);
    for (const SaveValue& item : items) save(item);
    static constexpr Opcode kSmallTuple[] = {TUPLE1, TUPLE2, TUPLE3};
    op(items.size() > 3 ? TUPLE : kSmallTuple[items.size() - 1]);
    memoize();
  }

  void save_items(const std::vector<SaveValue>& items) {
    for (size_t begin = 0; begin < items.size(); begin += kBatchSize) {
      const size_t end = std::min(items.size(), begin + kBatchSize);
      if (end - begin == 1) {
        save(items[begin]);
        op(APPEND);
        continue;
      }
      op(MARK);
      for (size_t i = begin; i < end; ++i) save(items[i]);
      op(APPENDS);
    }
  }

  void save_entries(const std::vector<std::pair<SaveValue, SaveValue>>& entries) {
    for (size_t begin = 0; begin < entries.size(); begin += kBatchSize) {
      const size_t end = std::min(entries.size(), begin + kBatchSize);
      if (end - begin > 1) op(MARK);
      for (size_t i = begin; i < end; ++i) {
        save(entries[i].first);
        save(entries[i].second);
      }
      op(end - begin > 1 ? SETITEMS : SETITEM);
    }
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  // backward_hooks), the storage being the persistent id ('storage', torch.<Type>Storage, key,
  // location, numel) that torch.load resolves to the record data/<key>.
  void save_tensor(const torch::Tensor& tensor) {
    if (!tensor.defined()) throw Error("cannot save an undefined tensor");
    if (tensor.layout() != torch::kStrided) throw Error("cannot save a sparse tensor");
    const char* storage = storage_class(tensor.scalar_type());
    if (!storage) throw Error(std::string("cannot save a tensor of dtype ") + c10::toString(tensor.scalar_type()));
    const torch::Tensor data = tensor.to(torch::kCPU).contiguous();
    const std::string key = std::to_string(storages_.size());
    storages_.push_back(data);

    save_global("torch._utils", "_rebuild_tensor_v2");
    op(MARK);
    op(MARK);
    save_string("storage");
    save_global("torch", storage);
    save_string(key);
    save_string("cpu");
    save_int(data.numel());
    op(TUPLE);
    memoize();
    op(BINPERSID);
    save_int(0);
    save_tuple(std::vector<SaveValue>(data.sizes().begin(), data.sizes().end()));
    const c10::DimVector strides = c10::contiguous_strides(data.sizes());  // also for size-1 dimensions
    save_tuple(std::vector<SaveValue>(strides.begin(), strides.end()));
    op(NEWFALSE);
    save(SaveValue::ordered_dict());
    op(TUPLE);
    memoize();
    op(REDUCE);
    memoize();
  }

  // BINPUT: the value on top of the stack gets the next memo index, which is returned.
  uint32_t memoize() {
    const uint32_t index = memo_size_++;
    if (index < 256) {
      op(BINPUT).byte(static_cast<uint8_t>(index));
    } else {
      op(LONG_BINPUT).little_endian(index);
    }
    return index;
  }

  void get(uint32_t index) {
    if (index < 256) {
      op(BINGET).byte(static_cast<uint8_t>(index));
    } else {
      op(LONG_BINGET).little_endian(index);
    }
  }

  TorchPickler& op(Opcode opcode) { return byte(opcode); }

  TorchPickler& byte(uint8_t value) {
    out_.push_back(static_cast<char>(value));
    return *this;
  }

  template <typename Integer>
  TorchPickler& little_endian(Integer value) {
    char bytes[sizeof(value)];
    std::memcpy(bytes, &value, sizeof(value));  // the machine is little-endian (io/files.h)
    out_.append(bytes, sizeof(bytes));
    return *this;
  }

  std::string out_;
  uint32_t memo_size_ = 0;
  std::map<std::string, uint32_t> memoised_strings_;
  std::map<std::string, uint32_t> memoised_globals_;
  std::vector<torch::Tensor> storages_;
};

}  // namespace

SaveValue SaveValue::tuple(std::vector<SaveValue> items) {
  SaveValue value(Kind::Tuple);
  value.items_ = std::move(items);
  return value;
}

SaveValue SaveValue::list(std::vector<SaveValue> items) {
  SaveValue value(Kind::List);
  value.items_ = std::move(items);
  return value;
}

SaveValue SaveValue::dict() { return SaveValue(Kind::Dict); }

SaveValue SaveValue::ordered_dict() { return SaveValue(Kind::OrderedDict); }

SaveValue SaveValue::ordered_dict(const StateDict& state) {
  SaveValue value(Kind::OrderedDict);
  value.entries_.reserve(state.names.size());
  for (const std::string& name : state.names) value.entries_.emplace_back(name, state.tensors.at(name));
  return value;
}

SaveValue SaveValue::argparse_namespace() { return SaveValue(Kind::Namespace); }

SaveValue& SaveValue::set(const std::string& key, SaveValue value) { return set_entry(key, std::move(value)); }

SaveValue& SaveValue::set(int64_t key, SaveValue value) {
  if (kind_ == Kind::Namespace) throw Error("an argparse.Namespace attribute needs a string name, not " + std::to_string(key));
  return set_entry(key, std::move(value));
}

SaveValue& SaveValue::set_entry(SaveValue key, SaveValue value) {
  if (kind_ != Kind::Dict && kind_ != Kind::OrderedDict && kind_ != Kind::Namespace) {
    throw Error("cannot set an entry in a value of type " + kind_name(kind_));
  }
  for (auto& [entry_key, entry_value] : entries_) {
    if (entry_key.kind_ == key.kind_ && entry_key.integer_ == key.integer_ && entry_key.text_ == key.text_) {
      entry_value = std::move(value);
      return *this;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
  return *this;
}

SaveValue& SaveValue::append(SaveValue item) {
  if (kind_ != Kind::List) throw Error("cannot append to a value of type " + kind_name(kind_));
  items_.push_back(std::move(item));
  return *this;
}

}  // namespace pickle

void save_torch_archive(const std::string& path, const pickle::SaveValue& root) {
  pickle::TorchPickler pickler;
  std::string data_pkl;
  try {
    data_pkl = pickler.pickle(root);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }

  AtomicFileWriter file(path);
  // LibTorch's writer finishes the archive from its destructor, and a failed write there would throw
  // out of the destructor (std::terminate). So it is never told of one: the first failure is kept,
  // the remaining bytes are dropped, and the failure is thrown once the writer is done.
  std::optional<Error> write_failure;
  const auto write = [&](const void* data, size_t size) -> size_t {
    if (!write_failure) {
      try {
        file.write(data, size);
      } catch (const Error& e) {
        write_failure = e;
      }
    }
    return size;
  };
  try {
    // Constructed from a write function, the writer puts every record under `archive/`.
    caffe2::serialize::PyTorchStreamWriter archive(write);
    archive.writeRecord("data.pkl", data_pkl.data(), data_pkl.size());
    archive.writeRecord("byteorder", "little", std::strlen("little"));
    const std::vector<torch::Tensor>& storages = pickler.storages();
    for (size_t key = 0; key < storages.size(); ++key) {
      archive.writeRecord("data/" + std::to_string(key), storages[key].data_ptr(), storages[key].nbytes());
    }
    archive.writeEndOfFile();  // the central directory, and the record `version` ("3\n")
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot write (" + first_line(e.what_without_backtrace()) + ")");
  }
  if (write_failure) throw *write_failure;
  file.commit();
}

}  // namespace tokenflow::io
