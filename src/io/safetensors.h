#pragma once
// The safetensors format (github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header giving each tensor's dtype, shape and byte range in the data that follows,
// and an optional "__metadata__" map of strings.
#include "io/state_dict.h"

#include <string>

namespace tokenflow::io {

// Reads every tensor (in header order) and the metadata. The header is validated against the file:
// a truncated file, a byte range outside the data, overlapping ranges or a range whose length does
// not match dtype x shape throw tokenflow::Error("<path>: ...").
StateDict read_safetensors(const std::string& path);

// Writes `state` in `state.names` order, with `state.metadata` as "__metadata__"; the header is padded
// with spaces so the data starts 8-byte aligned. Written to `path`.tmp, then renamed.
void write_safetensors(const std::string& path, const StateDict& state);

}  // namespace tokenflow::io
