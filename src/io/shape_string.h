#pragma once
// Tensor shapes in error messages.
#include <torch/torch.h>

#include <string>

namespace tokenflow::io {

// "[a,b,c]".
std::string shape_string(torch::IntArrayRef sizes);

}  // namespace tokenflow::io
