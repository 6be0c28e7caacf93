#pragma once
// Loading and saving model weights: `.pt` files written by torch.save or torch.jit.save (zip +
// pickle, read without executing anything) and `.safetensors`.
#include "io/state_dict.h"

#include <string>

namespace tokenflow::io {

// Reads a .pt or .safetensors file (chosen by content, not extension). For .pt, the state dict is
// taken from the key `ema`, else `model`, else `state_dict`, else the top-level dict, as the
// official loaders do; a TorchScript archive (such as OpenAI's CLIP files) gives its module's
// tensors under the names of torch.jit.load(path).state_dict(). Tensors keep their stored dtype
// (float32, float16 or bfloat16).
// Throws tokenflow::Error("<path>: <problem>") for a missing, truncated or foreign file.
StateDict load_state_dict(const std::string& path);

// Reads the state dict under the top-level key `key` of a torch.save file (e.g. "model" when the file
// also holds "ema", or "discriminator" of a training checkpoint), or of the TorchScript module's
// attribute `key` (e.g. its submodule "visual"). Throws if there is no such key.
StateDict load_state_dict(const std::string& path, const std::string& key);

// Whether `path` is a torch.save or torch.jit.save zip archive, as opposed to safetensors (by content).
// Throws like load_state_dict for a file that is neither.
bool is_torch_archive(const std::string& path);

// Writes `state` as safetensors: to `path`.tmp first, then renamed, so no half-written file remains.
void save_safetensors(const std::string& path, const StateDict& state);

}  // namespace tokenflow::io
