#pragma once
// How a Model's LoadOptions resolve (include/tokenflow/tokenizer.h).
#include <tokenflow/tokenizer.h>

namespace tokenflow::model {

// `options` with every Auto replaced by what it means on options.device, the device named in full,
// and Winograd replaced by LibTorch where it cannot run (bfloat16 encoders, not the CPU, no oneDNN).
// Throws tokenflow::Error for a tile of 1 or below 0, or an unknown device.
LoadOptions resolve(LoadOptions options);

}  // namespace tokenflow::model
