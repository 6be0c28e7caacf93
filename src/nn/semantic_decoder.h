#pragma once
// The semantic decoder (`decoder_vqkd.*`): a BEiT-v2 style ViT over the quantised semantic codes
// (patch size 1, q/v biases, mean-pooling variant so the output passes through fc_norm).
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace tokenflow::nn {

struct BeitBlock : torch::nn::Module {
  BeitBlock(int width, int mlp_width, int heads);
  torch::Tensor forward(const torch::Tensor& x);

  int heads;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::Tensor q_bias, v_bias, qkv_weight;  // attn.q_bias, attn.v_bias, attn.qkv.weight
  torch::nn::Linear proj{nullptr}, fc1{nullptr}, fc2{nullptr};
};

struct SemanticDecoder : torch::nn::Module {
  SemanticDecoder(int in_channels, int width, int layers, int heads, int mlp_width, int positions);
  // codes: B x C x h x w -> patch tokens B x (h*w) x width.
  torch::Tensor forward(const torch::Tensor& codes);

  torch::Tensor cls_token, pos_embed;
  torch::nn::Conv2d proj{nullptr};  // patch_embed.proj
  std::vector<std::shared_ptr<BeitBlock>> blocks;
  torch::nn::LayerNorm fc_norm{nullptr};
};

}  // namespace tokenflow::nn
