#pragma once
// The layout of a training run's folder, shared by `tokenflow train` and `tokenflow train-teacher`.
#include <cstdint>
#include <string>

namespace tokenflow::train {

// The checkpoint a run writes at `step`: <output>/checkpoints/<step, 7 digits>.pt as vq_train.py names them.
std::string checkpoint_path(const std::string& output, int64_t step);

}  // namespace tokenflow::train
