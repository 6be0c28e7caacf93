#pragma once
// The safetensors format (github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header giving each tensor's dtype, shape and byte range in the data that follows,
// and an optional "__metadata__" map of strings.
#include "io/state_dict.h"

#include <string>

namespace tokenflow::io {

// Maps the file and gives every tensor (in header order), as views of the mapping where aligned, and
// the metadata. The header is validated against the file:
// a truncated file, a byte range outside the data, overlapping ranges or a range whose length does
// not match dtype x shape throw tokenflow::Error("<path>: ...").
StateDict read_safetensors(const std::string& path);

// A Hugging Face model folder's weights: the shards `model.safetensors.index.json` names (its
// weight_map; every tensor it lists must be in its shard), else `model.safetensors`. Shard names are
// file names inside `folder`, nothing else.
StateDict read_safetensors_folder(const std::string& folder);

// Writes `state` in `state.names` order, with `state.metadata` as "__metadata__"; the header is padded
// with spaces so the data starts 8-byte aligned. Written to `path`.tmp, then renamed.
void write_safetensors(const std::string& path, const StateDict& state);

}  // namespace tokenflow::io
