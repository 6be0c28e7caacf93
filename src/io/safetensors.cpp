#include "io/safetensors.h"

#include "io/files.h"

#include <tokenflow/error.h>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>

namespace tokenflow::io {

namespace {

using Json = nlohmann::ordered_json;  // keeps the header's tensor order

// The reference implementation refuses larger headers too.
constexpr uint64_t kMaxHeaderSize = uint64_t{100} << 20;

const std::vector<std::pair<std::string, torch::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> names = {
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
  };
  return names;
}

struct TensorEntry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& path, uint64_t data_size) : path_(path), data_size_(data_size) {}

  TensorEntry entry(const std::string& name, const Json& info) const {
    if (!info.is_object()) fail(name, "is not an object");
    TensorEntry entry;
    entry.name = name;
    entry.dtype = dtype(name, info);
    const uint64_t numel = shape(name, info, entry.shape);
    offsets(name, info, entry);
    uint64_t expected = 0;
    if (__builtin_mul_overflow(numel, c10::elementSize(entry.dtype), &expected) || expected != entry.end - entry.begin) {
      fail(name, "has " + std::to_string(entry.end - entry.begin) + " bytes of data, which does not match its dtype and shape");
    }
    return entry;
  }

  std::map<std::string, std::string> metadata(const Json& info) const {
    if (!info.is_object()) throw Error(path_ + ": safetensors __metadata__ is not an object");
    std::map<std::string, std::string> metadata;
    for (const auto& [key, value] : info.items()) {
      if (!value.is_string()) throw Error(path_ + ": safetensors __metadata__ value for " + key + " is not a string");
      metadata[key] = value.get<std::string>();
    }
    return metadata;
  }

 private:
  [[noreturn]] void fail(const std::string& name, const std::string& problem) const {
    throw Error(path_ + ": safetensors header entry " + name + " " + problem);
  }

  torch::ScalarType dtype(const std::string& name, const Json& info) const {
    const auto found = info.find("dtype");
    if (found == info.end() || !found->is_string()) fail(name, "has no dtype");
    const std::string text = found->get<std::string>();
    for (const auto& [dtype_name, dtype] : dtype_names()) {
      if (dtype_name == text) return dtype;
    }
    fail(name, "has unsupported dtype " + text);
  }

  uint64_t shape(const std::string& name, const Json& info, std::vector<int64_t>& dims) const {
    const auto found = info.find("shape");
    if (found == info.end() || !found->is_array()) fail(name, "has no shape");
    uint64_t numel = 1;
    for (const Json& dim : *found) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
        fail(name, "has an invalid shape");
      }
      if (__builtin_mul_overflow(numel, dim.get<uint64_t>(), &numel)) fail(name, "has an invalid shape");
      dims.push_back(dim.get<int64_t>());
    }
    return numel;
  }

  void offsets(const std::string& name, const Json& info, TensorEntry& entry) const {
    const auto found = info.find("data_offsets");
    if (found == info.end() || !found->is_array() || found->size() != 2 || !(*found)[0].is_number_unsigned() ||
        !(*found)[1].is_number_unsigned()) {
      fail(name, "has no data_offsets [begin, end]");
    }
    entry.begin = (*found)[0].get<uint64_t>();
    entry.end = (*found)[1].get<uint64_t>();
    if (entry.begin > entry.end || entry.end > data_size_) {
      fail(name, "has data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                     "] outside the " + std::to_string(data_size_) + " bytes of data (truncated file?)");
    }
  }

  const std::string& path_;
  uint64_t data_size_;
};

void check_no_overlap(std::vector<TensorEntry> entries, const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      throw Error(path + ": safetensors tensors " + entries[i - 1].name + " and " + entries[i].name + " overlap");
    }
  }
}

const std::string& dtype_name(torch::ScalarType dtype, const std::string& path, const std::string& tensor_name) {
  for (const auto& [name, known] : dtype_names()) {
    if (known == dtype) return name;
  }
  throw Error(path + ": tensor " + tensor_name + " has dtype " + c10::toString(dtype) + ", which safetensors cannot store");
}

// A file mapped read-only into memory, copy-on-write: tensors of a loaded checkpoint are views of it
// (the page cache, not a copy), and whoever writes one changes only their own pages.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    struct stat status {};
    if (::fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
      ::close(descriptor);
      throw Error(path + ": not a regular file");
    }
    size_ = static_cast<uint64_t>(status.st_size);
    if (size_ > 0) {
      data_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0);
    }
    ::close(descriptor);
    if (data_ == MAP_FAILED) throw Error(path + ": cannot map (" + std::strerror(errno) + ")");
  }
  ~MappedFile() {
    if (data_ && data_ != MAP_FAILED) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint64_t size() const { return size_; }
  uint8_t* bytes() const { return static_cast<uint8_t*>(data_); }

 private:
  void* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace

StateDict read_safetensors(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  const uint64_t size = file->size();
  if (size < 8) throw Error(path + ": truncated safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t header_size = 0;
  std::memcpy(&header_size, file->bytes(), sizeof(header_size));
  if (header_size > size - 8) {
    throw Error(path + ": truncated safetensors file (the header alone should have " + std::to_string(header_size) +
                " bytes, the file has " + std::to_string(size) + ")");
  }
  if (header_size > kMaxHeaderSize) throw Error(path + ": safetensors header of " + std::to_string(header_size) + " bytes is too large");
  const std::string header_text(reinterpret_cast<const char*>(file->bytes()) + 8, header_size);
  const Json header = Json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) throw Error(path + ": safetensors header is not a JSON object");

  const uint64_t data_start = 8 + header_size;
  const HeaderParser parser(path, size - data_start);
  StateDict state;
  std::vector<TensorEntry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      state.metadata = parser.metadata(info);
    } else {
      entries.push_back(parser.entry(name, info));
    }
  }
  check_no_overlap(entries, path);

  for (const TensorEntry& entry : entries) {
    uint8_t* data = file->bytes() + data_start + entry.begin;
    const auto element = static_cast<uintptr_t>(c10::elementSize(entry.dtype));
    const bool aligned = reinterpret_cast<uintptr_t>(data) % element == 0;
    // Bools are read as bytes and compared with zero, so that no byte other than 0/1 becomes a bool.
    const bool is_bool = entry.dtype == torch::kBool;
    const auto dtype = is_bool ? torch::kUInt8 : entry.dtype;
    torch::Tensor tensor;
    if (aligned && !is_bool) {
      tensor = torch::from_blob(data, entry.shape, [file](void*) {}, torch::TensorOptions().dtype(dtype));
    } else {
      tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(dtype));
      std::memcpy(tensor.data_ptr(), data, entry.end - entry.begin);
    }
    state.insert(entry.name, is_bool ? tensor.ne(0) : tensor);
  }
  return state;
}

StateDict read_safetensors_folder(const std::string& folder) {
  const std::string index_path = folder + "/model.safetensors.index.json";
  const std::string single_path = folder + "/model.safetensors";
  if (!std::ifstream(index_path)) {
    if (!std::ifstream(single_path)) throw Error(folder + ": no model.safetensors or model.safetensors.index.json");
    return read_safetensors(single_path);
  }
  const Json index = Json::parse(read_text_file(index_path), nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw Error(index_path + ": not a safetensors index (no weight_map object)");
  }
  std::map<std::string, std::vector<std::string>> names_by_shard;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) throw Error(index_path + ": the shard of " + name + " is not a file name");
    const auto file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      throw Error(index_path + ": shard name " + file + " is not a file in the folder");
    }
    names_by_shard[file].push_back(name);
  }
  StateDict state;
  for (const auto& [file, names] : names_by_shard) {
    const std::string shard_path = folder + "/" + file;
    StateDict shard = read_safetensors(shard_path);
    for (const auto& name : names) {
      if (!shard.contains(name)) throw Error(shard_path + ": missing tensor " + name + " (listed in model.safetensors.index.json)");
      state.insert(name, shard.tensors.at(name));
    }
  }
  return state;
}

void write_safetensors(const std::string& path, const StateDict& state) {
  Json header = Json::object();
  if (!state.metadata.empty()) header["__metadata__"] = state.metadata;
  std::vector<torch::Tensor> tensors;
  uint64_t offset = 0;
  for (const std::string& name : state.names) {
    const auto found = state.tensors.find(name);
    if (found == state.tensors.end()) throw Error(path + ": the state dict names " + name + " but holds no such tensor");
    if (header.contains(name)) throw Error(path + ": tensor name " + name + " appears twice or is reserved");
    torch::Tensor tensor = found->second.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = tensor.numel() * tensor.element_size();
    header[name] = {{"dtype", dtype_name(tensor.scalar_type(), path, name)},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    tensors.push_back(std::move(tensor));
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const uint64_t header_size = header_text.size();

  AtomicFileWriter out(path);
  out.write(&header_size, sizeof(header_size));
  out.write(header_text.data(), header_text.size());
  for (const torch::Tensor& tensor : tensors) out.write(tensor.data_ptr(), tensor.numel() * tensor.element_size());
  out.commit();
}

}  // namespace tokenflow::io
