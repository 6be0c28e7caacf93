#include "io/torch_archive.h"

#include <tokenflow/error.h>

#include <map>
#include <new>

namespace tokenflow::io {

namespace {

// Nested dicts of tensors are flattened with dotted names down to this depth; it also ends the walk
// through a dict that (through the pickle memo) contains itself.
constexpr int kMaxNesting = 16;
// Dicts shared through the pickle memo are walked once per path to them, so a small file could ask
// for exponentially many names. A walk may spend this many bytes on the names it builds, counting
// kNameOverhead for each tensor's bookkeeping and one for each entry it looks at; a real checkpoint
// spends well under a megabyte.
constexpr size_t kMaxWalkCost = size_t{1} << 26;
constexpr size_t kNameOverhead = 64;

// Runs a call into LibTorch's zip reader, turning its errors into tokenflow::Error.
template <typename Function>
auto guarded(const std::string& path, Function&& function) {
  try {
    return function();
  } catch (const c10::Error& e) {
    throw Error(path + ": truncated or corrupt zip archive (" + first_line(e.what_without_backtrace()) + ")");
  } catch (const std::bad_alloc&) {
    throw Error(path + ": corrupt zip archive (a record is too large to read)");
  }
}

// The tensors under a dict or a TorchScript object, named by their dotted paths of string keys. The
// walk descends into values of the root's kind only: nested dicts of a torch.save state dict, or the
// submodules of a TorchScript module, whose dict attributes are not part of its state_dict().
class TensorCollector {
 public:
  using NamedRefs = std::vector<std::pair<std::string, const pickle::TensorRef*>>;

  // `path` names the file in errors.
  explicit TensorCollector(const std::string& path) : path_(path) {}

  NamedRefs collect(const pickle::Value& root) {
    container_ = root.kind;
    collect(root, "", 0);
    return std::move(refs_);
  }

 private:
  void collect(const pickle::Value& node, const std::string& prefix, int depth) {
    for (const auto& [key, value] : node.entries) {
      spend(1);
      if (key->kind != pickle::Value::Kind::String) continue;
      if (value->kind == pickle::Value::Kind::Tensor) {
        spend(kNameOverhead + prefix.size() + key->text.size());
        refs_.emplace_back(prefix + key->text, value->tensor.get());
      } else if (value->kind == container_ && depth + 1 < kMaxNesting) {
        spend(prefix.size() + key->text.size());
        collect(*value, prefix + key->text + ".", depth + 1);
      }
    }
  }

  void spend(size_t cost) {
    if (cost > kMaxWalkCost - cost_) throw Error(path_ + ": the pickled dicts or objects nest into too many names");
    cost_ += cost;
  }

  const std::string& path_;
  pickle::Value::Kind container_ = pickle::Value::Kind::Dict;
  NamedRefs refs_;
  size_t cost_ = 0;
};

}  // namespace

TorchArchive::TorchArchive(const std::string& path) : path_(path) {
  guarded(path_, [&] { reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path); });
  if (!guarded(path_, [&] { return reader_->hasRecord("data.pkl"); })) {
    throw Error(path_ + ": zip archive without data.pkl (not written by torch.save)");
  }
  check_byte_order();
  const auto [data, size] = record("data.pkl");
  try {
    pickle_ = pickle::unpickle(data.get(), size);
  } catch (const Error& e) {
    throw Error(path_ + ": data.pkl: " + e.what());
  }
}

StateDict TorchArchive::read_tensors(const pickle::Value& tree) {
  const auto refs = TensorCollector(path_).collect(tree);

  // Each storage record is read once and released once its tensors are copied out.
  std::map<std::string, std::vector<size_t>> users;
  for (size_t i = 0; i < refs.size(); ++i) users[refs[i].second->storage_key].push_back(i);
  std::vector<torch::Tensor> tensors(refs.size());
  for (const auto& [key, indices] : users) {
    const std::string name = "data/" + key;
    if (!guarded(path_, [&] { return reader_->hasRecord(name); })) throw Error(path_ + ": missing storage record " + name);
    const auto [data, size] = record(name);
    for (size_t i : indices) tensors[i] = materialize(*refs[i].second, data.get(), size);
  }

  StateDict state;
  for (size_t i = 0; i < refs.size(); ++i) state.insert(refs[i].first, std::move(tensors[i]));
  return state;
}

torch::Tensor TorchArchive::read_tensor(const pickle::TensorRef& ref) {
  const std::string name = "data/" + ref.storage_key;
  if (!guarded(path_, [&] { return reader_->hasRecord(name); })) throw Error(path_ + ": missing storage record " + name);
  const auto [data, size] = record(name);
  return materialize(ref, data.get(), size);
}

std::tuple<at::DataPtr, size_t> TorchArchive::record(const std::string& name) {
  return guarded(path_, [&] { return reader_->getRecord(name); });
}

// Storages are copied byte for byte, so they must be little-endian as on this machine.
void TorchArchive::check_byte_order() {
  if (!guarded(path_, [&] { return reader_->hasRecord("byteorder"); })) return;  // older files: little-endian
  const auto [data, size] = record("byteorder");
  const std::string order(static_cast<const char*>(data.get()), size);
  if (order != "little") throw Error(path_ + ": storages are " + order + "-endian; only little-endian is supported");
}

torch::Tensor TorchArchive::materialize(const pickle::TensorRef& ref, const void* data, size_t size) const {
  const auto element_size = static_cast<size_t>(c10::elementSize(ref.dtype));
  if (size / element_size < static_cast<uint64_t>(ref.storage_numel)) {
    throw Error(path_ + ": storage data/" + ref.storage_key + " has " + std::to_string(size) + " bytes, " +
                std::to_string(ref.storage_numel * element_size) + " expected");
  }
  // Bools are viewed as bytes and compared with zero, so that no byte other than 0/1 becomes a bool.
  const bool is_bool = ref.dtype == torch::kBool;
  const auto options = torch::TensorOptions().dtype(is_bool ? torch::kUInt8 : ref.dtype);
  int64_t numel = 1;
  for (int64_t size_d : ref.sizes) numel *= size_d;  // cannot overflow: the view fits in the storage
  torch::Tensor tensor;
  if (numel == 0) {
    tensor = torch::empty(ref.sizes, options);
  } else {
    // from_blob only wraps the record; clone() copies the view out before the record is released.
    torch::Tensor storage = torch::from_blob(const_cast<void*>(data), {ref.storage_numel}, options);
    tensor = storage.as_strided(ref.sizes, ref.strides, ref.storage_offset).clone(at::MemoryFormat::Contiguous);
  }
  return is_bool ? tensor.ne(0) : tensor;
}

int64_t checkpoint_steps(const TorchArchive& archive, const std::string& path) {
  const pickle::Value& root = archive.root();
  const pickle::Value* steps = root.kind == pickle::Value::Kind::Dict ? root.get("steps") : nullptr;
  if (!steps) throw Error(path + ": the checkpoint has no entry `steps`");
  if (steps->kind != pickle::Value::Kind::Int) throw Error(path + ": `steps` is " + steps->describe() + ", not an int");
  return steps->integer;
}

}  // namespace tokenflow::io
