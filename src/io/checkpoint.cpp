#include "io/checkpoint.h"

#include "io/files.h"
#include "io/safetensors.h"
#include "io/torch_archive.h"

#include <tokenflow/error.h>

#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>

namespace tokenflow::io {

namespace {

enum class Format { TorchZip, Safetensors };

Format detect_format(const std::string& path) {
  std::ifstream file = open_for_reading(path);
  unsigned char head[9] = {};
  file.read(reinterpret_cast<char*>(head), sizeof(head));
  const auto length = static_cast<size_t>(file.gcount());
  if (length >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return Format::TorchZip;
  if (length == sizeof(head) && head[8] == '{') return Format::Safetensors;
  if (length >= 2 && head[0] == 0x80 && head[1] <= 5) {
    throw Error(path + ": a bare pickle, such as torch.save wrote before PyTorch 1.6, is not supported "
                       "(save it again with a recent PyTorch)");
  }
  throw Error(path + (length == 0 ? ": empty file, " : ": ") + "not a PyTorch or safetensors checkpoint");
}

std::string top_level_keys(const pickle::Value& root) {
  std::string keys;
  for (const auto& [key, value] : root.entries) {
    if (key->kind == pickle::Value::Kind::String) keys += (keys.empty() ? "" : ", ") + key->text;
  }
  return keys.empty() ? "no string keys" : keys;
}

// torch.jit.save (OpenAI's CLIP releases, for one) pickles the module itself: an object of a
// `__torch__.` class whose attributes are its parameters, buffers, submodules and plain settings.
bool is_torchscript_module(const pickle::Value& value) {
  return value.kind == pickle::Value::Kind::Opaque && value.text.rfind("__torch__.", 0) == 0;
}

// A tokenflow training checkpoint records in its `args` the attention heads of the semantic encoder
// and decoder, which no tensor shows (model::detect_architecture); they are handed on as the metadata
// a safetensors file would carry, so that `convert` keeps them too. Official checkpoints have neither.
void read_recorded_heads(const pickle::Value& root, StateDict& state) {
  const pickle::Value* args = root.kind == pickle::Value::Kind::Dict ? root.get("args") : nullptr;
  if (args == nullptr) return;
  for (const char* name : {"semantic_heads", "semantic_decoder_heads"}) {
    const pickle::Value* heads = args->get(name);
    if (heads != nullptr && heads->kind == pickle::Value::Kind::Int) {
      state.metadata[std::string("tokenflow.") + name] = std::to_string(heads->integer);
    }
  }
}

// `key` given: that entry. Otherwise the official choice: ema, model, state_dict, the whole dict; or
// for a TorchScript module its whole state_dict() (the official loaders never pick a submodule).
StateDict load_torch_archive(const std::string& path, const std::optional<std::string>& key) {
  TorchArchive archive(path);
  const pickle::Value& root = archive.root();
  const bool module = is_torchscript_module(root);
  if (root.kind != pickle::Value::Kind::Dict && !module) {
    throw Error(path + ": the pickled object is not a dict (" + root.describe() + ")");
  }
  if (module && !key) return archive.read_tensors(root);
  const pickle::Value* chosen = &root;
  std::string chosen_name = "the top-level dict";
  const std::vector<std::string> candidates = key ? std::vector<std::string>{*key} : std::vector<std::string>{"ema", "model", "state_dict"};
  for (const std::string& candidate : candidates) {
    if (const pickle::Value* entry = root.get(candidate)) {
      chosen = entry;
      chosen_name = "entry `" + candidate + "`";
      break;
    }
  }
  if (key && chosen == &root) throw Error(path + ": no entry `" + *key + "` (the file holds: " + top_level_keys(root) + ")");
  if (chosen->kind != pickle::Value::Kind::Dict && !is_torchscript_module(*chosen)) {
    throw Error(path + ": " + chosen_name + " is not a state dict (" + chosen->describe() + ")");
  }
  StateDict state = archive.read_tensors(*chosen);
  read_recorded_heads(root, state);
  return state;
}

StateDict load(const std::string& path, const std::optional<std::string>& key) {
  const Format format = detect_format(path);
  if (format == Format::Safetensors && key) throw Error(path + ": a safetensors file has no entry `" + *key + "`");
  StateDict state = format == Format::Safetensors ? read_safetensors(path) : load_torch_archive(path, key);
  if (state.names.empty()) throw Error(path + ": no tensors found (not a TokenFlow checkpoint?)");
  return state;
}

}  // namespace

StateDict load_state_dict(const std::string& path) { return load(path, std::nullopt); }

StateDict load_state_dict(const std::string& path, const std::string& key) { return load(path, key); }

bool is_torch_archive(const std::string& path) { return detect_format(path) == Format::TorchZip; }

void save_safetensors(const std::string& path, const StateDict& state) { write_safetensors(path, state); }

}  // namespace tokenflow::io
