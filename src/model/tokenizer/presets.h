#pragma once
// The architectures of the released checkpoints, for building them with random weights
// (benchmarks, tests) without a download.
#include "model/tokenizer/architecture.h"

#include <string>
#include <vector>

namespace tokenflow::model {

// "clipb256e" (tokenflow_clipb_32k_enhanced.pt) or "siglip384" (tokenflow_siglip_32k.pt).
Architecture released_architecture(const std::string& name);
std::vector<std::string> released_architecture_names();

}  // namespace tokenflow::model
