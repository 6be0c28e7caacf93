#pragma once
// The language-model core: a Llama-family decoder built from its checkpoint's tensors
// (`model.layers.N...`), shared by the generator (TokenFlow-t2i) and the understanding model
// (LLaVA on Qwen2.5). The config says which variant a checkpoint is, as its config.json does:
// - TokenFlow-t2i (t2i/llava_t2i/model/language_model/modeling_llama.py as TokenFlow modified it):
//   each layer's RMSNorms are applied to the attention and MLP *outputs* (the sublayers read the raw
//   residual stream), and a QKNorm (an RMSNorm over head_dim for queries and one for keys,
//   `self_attn.qknorm`) runs before RoPE;
// - Qwen2 (transformers' modeling_qwen2.py): the usual pre-norm residual blocks, and biases on the
//   query, key and value projections.
// Grouped-query attention when the config has fewer key/value heads than heads.
#include "nn/transformer/decoder_config.h"
#include "nn/transformer/kv_cache.h"
#include "nn/transformer/linear_weight.h"
#include "nn/transformer/rms_norm.h"
#include "nn/transformer/rotary.h"
#include "nn/weights.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::nn {

class DecoderLayer {
 public:
  // weights: the table under "layers.N."; `format`: how the projections are held.
  DecoderLayer(const DecoderConfig& config, const TensorTable& weights, WeightFormat format = WeightFormat::Dense);
  // x: B x L x hidden, the new positions; mask: B x 1 x L x (cached + L), added to the scores, or
  // undefined when every new position may see every cached and new one. The layer's keys and values
  // of earlier positions come from `cache` (may be empty); those of x are appended to it when
  // `extend`.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles,
                        LayerCache& cache, bool extend) const;
  // The bytes the layer's projections take as held.
  int64_t weight_bytes() const;

 private:
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles,
                          LayerCache& cache, bool extend) const;
  torch::Tensor mlp(const torch::Tensor& x) const;

  DecoderConfig config_;
  LinearWeight q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  RMSNorm query_norm, key_norm, input_layernorm, post_attention_layernorm;
};

// The embedding table, the layers and the final norm (LlamaModel, Qwen2Model), fed embeddings: the
// models build them from text embeddings and projected image features.
class TransformerDecoder {
 public:
  // weights: the table under "model."; `format`: how the layers' projections and the embedding
  // table are held. The activations take the table's dtype.
  TransformerDecoder(const DecoderConfig& config, const TensorTable& weights, WeightFormat format = WeightFormat::Dense);

  struct Output {
    torch::Tensor last;                  // the final RMSNorm of the last layer's output
    std::vector<torch::Tensor> hidden;   // the embeddings, then every layer's output but the last
  };
  // embeddings: B x L x hidden (the new positions); mask: B x 1 x L x (cache.length() + L), 0 or the
  // lowest float, or undefined for no mask; positions: B x L. With `extend` the new positions' keys
  // and values join the cache.
  Output forward(const torch::Tensor& embeddings, const torch::Tensor& mask, const torch::Tensor& positions,
                 KeyValueCache& cache, bool extend = true) const;
  // Without a cache: every position computed.
  Output forward(const torch::Tensor& embeddings, const torch::Tensor& mask, const torch::Tensor& positions) const;

  torch::Tensor embed(const torch::Tensor& ids) const;  // B x L -> B x L x hidden
  // The activations' dtype and device.
  const torch::TensorOptions& options() const { return options_; }

  DecoderConfig config;
  LinearWeight embed_tokens;  // vocabulary x hidden
  std::vector<DecoderLayer> layers;
  RMSNorm norm;

 private:
  RotaryEmbedding rotary_;
  torch::TensorOptions options_;
};

// The additive mask of causal attention over `length` new positions that follow `cached` ones:
// 1 x 1 x length x (cached + length), 0 where a position may look and the lowest float elsewhere.
torch::Tensor causal_mask(int64_t cached, int64_t length, const torch::TensorOptions& options);

}  // namespace tokenflow::nn
