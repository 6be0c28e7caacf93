#pragma once
// Rotary position embeddings as Llama's default RoPE computes them (LlamaRotaryEmbedding and
// apply_rotary_pos_emb with rotate_half): frequencies theta^(-2i/d), the angles in float32.
#include <torch/torch.h>

namespace tokenflow::nn {

struct RotaryAngles {
  torch::Tensor cos, sin;  // B x L x head_dim
};

class RotaryEmbedding {
 public:
  RotaryEmbedding(int64_t head_dim, double theta);
  // positions: B x L (int64).
  RotaryAngles angles(const torch::Tensor& positions) const;

 private:
  torch::Tensor inverse_frequencies_;  // head_dim / 2
};

// x: B x heads x L x head_dim.
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryAngles& angles);

}  // namespace tokenflow::nn
