#pragma once
// OpenAI CLIP vision transformer (`encoder_vqkd.*` of the CLIP TokenFlow checkpoints), returning
// ln_post of the patch tokens. The official code feeds it the [-1, 1] image unscaled.
#include "nn/semantic_encoder.h"

#include <memory>
#include <vector>

namespace tokenflow::nn {

struct ClipBlock : torch::nn::Module {
  ClipBlock(int width, int heads);
  // `attention_mask`: see multi_head_attention (the text tower's causal mask; none for images).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& attention_mask = {});

  int heads;
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  torch::Tensor in_proj_weight, in_proj_bias;  // registered under attn.
  torch::nn::Linear out_proj{nullptr}, c_fc{nullptr}, c_proj{nullptr};
};

struct ClipVision : SemanticEncoder {
  ClipVision(int width, int layers, int heads, int patch, int positions);
  torch::Tensor forward(const torch::Tensor& images) override;
  // ln_post of every token, the class token first: B x (1 + N) x width. CLIP's image embedding is
  // the class token's, projected by visual.proj.
  torch::Tensor all_tokens(const torch::Tensor& images);

  int patch;
  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding;
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  std::vector<std::shared_ptr<ClipBlock>> blocks;
};

}  // namespace tokenflow::nn
