#pragma once
// Moving tensors between a StateDict (names as in the official PyTorch code) and a module tree
// whose parameter names mirror them.
#include "io/state_dict.h"

#include <torch/torch.h>

#include <string>

namespace tokenflow::nn {

// Copies every parameter and buffer of `module` from `state` (converted to float32). Names in
// `state` are `prefix` + the module's own names. Tensors in `state` that the module does not have
// are ignored. Throws tokenflow::Error naming `source` for a missing tensor or a shape mismatch.
void load_weights(torch::nn::Module& module, const io::StateDict& state, const std::string& source,
                  const std::string& prefix = "");

// The module's parameters and buffers as a StateDict, with `prefix` prepended to every name.
io::StateDict collect_weights(const torch::nn::Module& module, const std::string& prefix = "");

}  // namespace tokenflow::nn
