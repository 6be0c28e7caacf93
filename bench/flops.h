#pragma once
// Floating-point operation counts of the TokenFlow stages, from the architecture (a multiply-add
// counts as two). Used to report achieved GFLOP/s.
#include "model/tokenizer/architecture.h"

namespace tokenflow::bench {

struct StageFlops {
  double semantic_encoder = 0;  // ViT + encode_task_layer
  double pixel_encoder = 0;     // VQGAN encoder + quant_conv
  double quantizer = 0;         // codebook search over all scales (the similarity GEMM)
  double pixel_decoder = 0;     // post_quant_conv + VQGAN decoder
  double semantic_decoder = 0;  // BEiT decoder + decode_task_layer
};

StageFlops count_flops(const model::Architecture& arch);

}  // namespace tokenflow::bench
