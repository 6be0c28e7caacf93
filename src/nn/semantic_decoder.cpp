#include "nn/semantic_decoder.h"

#include "nn/attention.h"
#include "nn/linear.h"

namespace tokenflow::nn {

namespace {

torch::nn::LayerNorm layer_norm(int width) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6)); }

}  // namespace

BeitBlock::BeitBlock(int width, int mlp_width, int heads) : heads(heads) {
  norm1 = register_module("norm1", layer_norm(width));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  q_bias = attn->register_parameter("q_bias", torch::zeros({width}));
  v_bias = attn->register_parameter("v_bias", torch::zeros({width}));
  auto qkv = attn->register_module("qkv", std::make_shared<torch::nn::Module>());
  qkv_weight = qkv->register_parameter("weight", torch::randn({3 * width, width}) * 0.02);
  proj = attn->register_module("proj", torch::nn::Linear(width, width));
  norm2 = register_module("norm2", layer_norm(width));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1 = mlp->register_module("fc1", torch::nn::Linear(width, mlp_width));
  fc2 = mlp->register_module("fc2", torch::nn::Linear(mlp_width, width));
}

torch::Tensor BeitBlock::forward(const torch::Tensor& x) {
  // BEiT learns no key bias: the qkv bias is (q_bias, 0, v_bias).
  auto bias = torch::cat({q_bias, torch::zeros_like(v_bias), v_bias});
  auto qkv = linear(norm1(x), qkv_weight, bias).chunk(3, -1);
  auto h = x + linear(multi_head_attention(qkv[0], qkv[1], qkv[2], heads), proj);
  return h + linear(torch::gelu(linear(norm2(h), fc1)), fc2);
}

SemanticDecoder::SemanticDecoder(int in_channels, int width, int layers, int heads, int mlp_width, int positions) {
  // BEiT initialises these with a truncated normal of std 0.02.
  cls_token = register_parameter("cls_token", torch::randn({1, 1, width}) * 0.02);
  pos_embed = register_parameter("pos_embed", torch::randn({1, positions, width}) * 0.02);
  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  proj = patch_embed->register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, width, 1)));
  auto block_list = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < layers; ++i) {
    blocks.push_back(std::make_shared<BeitBlock>(width, mlp_width, heads));
    block_list->push_back(blocks.back());
  }
  fc_norm = register_module("fc_norm", layer_norm(width));
}

torch::Tensor SemanticDecoder::forward(const torch::Tensor& codes) {
  auto x = proj(codes).flatten(2).transpose(1, 2);
  const auto batch = x.size(0);
  x = torch::cat({cls_token.expand({batch, -1, -1}), x}, 1);
  auto table = pos_embed[0];
  auto positions = torch::cat({table.slice(0, 0, 1),
                               interpolate_position_table(table.slice(0, 1), static_cast<int>(codes.size(2)))});
  x = x + positions.unsqueeze(0);
  for (auto& block : blocks) x = block->forward(x);
  return fc_norm(x.slice(1, 1));
}

}  // namespace tokenflow::nn
