#pragma once
// The decoder of TokenFlow-t2i (t2i/llava_t2i/model/language_model/modeling_llama.py as TokenFlow
// modified it), built from its checkpoint's tensors (`model.layers.N...`). It differs from Llama-2 in
// two ways: each layer's RMSNorms are applied to the attention and MLP *outputs* (the sublayers read
// the raw residual stream), and a QKNorm (an RMSNorm over head_dim for queries and one for keys,
// `self_attn.qknorm`) runs before RoPE. Grouped-query attention when the config has fewer key/value
// heads than heads.
#include "nn/transformer/kv_cache.h"
#include "nn/transformer/rms_norm.h"
#include "nn/transformer/rotary.h"
#include "nn/weights.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::nn {

struct LlamaConfig {
  int64_t hidden_size = 0, intermediate_size = 0, layers = 0, heads = 0, key_value_heads = 0, vocabulary = 0;
  double rms_norm_eps = 1e-5, qk_norm_eps = 1e-6, rope_theta = 10000;
  int64_t head_dim() const { return hidden_size / heads; }
};

class TokenFlowLlamaLayer {
 public:
  // weights: the table under "layers.N.".
  TokenFlowLlamaLayer(const LlamaConfig& config, const TensorTable& weights);
  // x: B x L x hidden, the new positions; mask: B x 1 x L x (cached + L), added to the scores. The
  // layer's keys and values of earlier positions come from `cache` (may be empty); those of x are
  // appended to it when `extend`.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles,
                        LayerCache& cache, bool extend) const;

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles,
                          LayerCache& cache, bool extend) const;
  torch::Tensor mlp(const torch::Tensor& x) const;

  LlamaConfig config_;
  torch::Tensor q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;  // Linear weights, out x in
  RMSNorm query_norm, key_norm, input_layernorm, post_attention_layernorm;
};

// LlamaModel: the embedding table, the layers and the final norm, fed embeddings (the generator builds
// them: text embeddings and projected image features).
class TokenFlowLlama {
 public:
  // weights: the table under "model.".
  TokenFlowLlama(const LlamaConfig& config, const TensorTable& weights);

  struct Output {
    torch::Tensor last;                  // the final RMSNorm of the last layer's output
    std::vector<torch::Tensor> hidden;   // the embeddings, then every layer's output but the last
  };
  // embeddings: B x L x hidden (the new positions); mask: B x 1 x L x (cache.length() + L), 0 or the
  // lowest float; positions: B x L. With `extend` the new positions' keys and values join the cache.
  Output forward(const torch::Tensor& embeddings, const torch::Tensor& mask, const torch::Tensor& positions,
                 KeyValueCache& cache, bool extend = true) const;
  // Without a cache: every position computed.
  Output forward(const torch::Tensor& embeddings, const torch::Tensor& mask, const torch::Tensor& positions) const;

  torch::Tensor embed(const torch::Tensor& ids) const;  // B x L -> B x L x hidden

  LlamaConfig config;
  torch::Tensor embed_tokens;  // vocabulary x hidden
  std::vector<TokenFlowLlamaLayer> layers;
  RMSNorm norm;

 private:
  RotaryEmbedding rotary_;
};

}  // namespace tokenflow::nn
