#pragma once
// The decoder of TokenFlow-t2i (t2i/llava_t2i/model/language_model/modeling_llama.py as TokenFlow
// modified it), whose tensors are named as in its checkpoint (`model.layers.N...`). It differs from
// Llama-2 in two ways: each layer's RMSNorms are applied to the attention and MLP *outputs* (the
// sublayers read the raw residual stream), and a QKNorm (an RMSNorm over head_dim for queries and
// one for keys, `self_attn.qknorm`) runs before RoPE.
#include "nn/transformer/rms_norm.h"
#include "nn/transformer/rotary.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::nn {

struct LlamaConfig {
  int64_t hidden_size = 0, intermediate_size = 0, layers = 0, heads = 0, key_value_heads = 0, vocabulary = 0;
  double rms_norm_eps = 1e-5, qk_norm_eps = 1e-6, rope_theta = 10000;
  int64_t head_dim() const { return hidden_size / heads; }
};

class TokenFlowLlamaLayerImpl : public torch::nn::Module {
 public:
  explicit TokenFlowLlamaLayerImpl(const LlamaConfig& config);
  // x: B x L x hidden; mask: B x 1 x L x L, added to the scores.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles);

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles);
  torch::Tensor mlp(const torch::Tensor& x);

  LlamaConfig config_;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm query_norm{nullptr}, key_norm{nullptr};
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(TokenFlowLlamaLayer);

// LlamaModel: the layers and the final norm, fed embeddings (the generator builds them: text
// embeddings and projected image features). `embed_tokens` is here for the text positions.
class TokenFlowLlamaImpl : public torch::nn::Module {
 public:
  explicit TokenFlowLlamaImpl(const LlamaConfig& config);

  struct Output {
    torch::Tensor last;                  // the final RMSNorm of the last layer's output
    std::vector<torch::Tensor> hidden;   // the embeddings, then every layer's output but the last
  };
  // embeddings: B x L x hidden; mask: B x 1 x L x L (0 or the lowest float); positions: B x L.
  Output forward(const torch::Tensor& embeddings, const torch::Tensor& mask, const torch::Tensor& positions);

  LlamaConfig config;
  torch::nn::Embedding embed_tokens{nullptr};
  std::vector<TokenFlowLlamaLayer> layers;
  RMSNorm norm{nullptr};

 private:
  RotaryEmbedding rotary_;
};
TORCH_MODULE(TokenFlowLlama);

}  // namespace tokenflow::nn
