#pragma once
// Adam and AdamW states as torch.optim's Optimizer.state_dict() holds them, for training checkpoints:
// `state` maps each parameter's position (over the parameter groups, in order) to its step count and
// moments, `param_groups` lists each group's settings and positions.
#include "io/torch_archive.h"
#include "io/torch_save.h"

#include <torch/torch.h>

#include <string>

namespace tokenflow::train {

// Optimizer: torch::optim::Adam or torch::optim::AdamW.
template <typename Optimizer>
io::pickle::SaveValue optimizer_state_dict(Optimizer& optimizer);

// Restores what optimizer_state_dict wrote under `key` of the checkpoint `archive` (read from `path`).
// Throws tokenflow::Error("<path>: ...") when it is missing or does not fit the optimizer's parameters.
template <typename Optimizer>
void load_optimizer_state(io::TorchArchive& archive, const std::string& key, Optimizer& optimizer,
                          const std::string& path);

}  // namespace tokenflow::train
