#pragma once
// NumPy .npy files (format versions 1.0-3.0): little-endian, C order, dtypes float16/32/64,
// int8/16/32/64, uint8 and bool.
#include <torch/torch.h>

#include <string>

namespace tokenflow::io {

// Throws tokenflow::Error("<path>: <problem>") for a missing, truncated or unsupported file.
torch::Tensor load_npy(const std::string& path);
// Writes `tensor` (any device; bfloat16 has no .npy dtype and is refused) to `path`.tmp, then renames it.
void save_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace tokenflow::io
