#include "nn/clip_vision.h"

#include "nn/attention.h"
#include "nn/linear.h"

#include <cmath>

namespace tokenflow::nn {

namespace {

torch::nn::LayerNorm layer_norm(int width) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)); }

torch::Tensor quick_gelu(const torch::Tensor& x) { return x * torch::sigmoid(1.702 * x); }

}  // namespace

ClipBlock::ClipBlock(int width, int heads) : heads(heads) {
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  // nn.MultiheadAttention's initialisation: Xavier-uniform projections, zero bias.
  const double bound = std::sqrt(6.0 / (4.0 * width));
  in_proj_weight = attn->register_parameter("in_proj_weight", torch::empty({3 * width, width}).uniform_(-bound, bound));
  in_proj_bias = attn->register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = attn->register_module("out_proj", torch::nn::Linear(width, width));
  ln_1 = register_module("ln_1", layer_norm(width));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  c_fc = mlp->register_module("c_fc", torch::nn::Linear(width, 4 * width));
  c_proj = mlp->register_module("c_proj", torch::nn::Linear(4 * width, width));
  ln_2 = register_module("ln_2", layer_norm(width));
}

torch::Tensor ClipBlock::forward(const torch::Tensor& x, const torch::Tensor& attention_mask) {
  auto qkv = linear(ln_1(x), in_proj_weight, in_proj_bias).chunk(3, -1);
  auto h = x + linear(multi_head_attention(qkv[0], qkv[1], qkv[2], heads, attention_mask), out_proj);
  return h + linear(quick_gelu(linear(ln_2(h), c_fc)), c_proj);
}

ClipVision::ClipVision(int width, int layers, int heads, int patch, int positions) : patch(patch) {
  const double scale = std::pow(static_cast<double>(width), -0.5);  // CLIP's initialisation
  class_embedding = register_parameter("class_embedding", torch::randn({width}) * scale);
  positional_embedding = register_parameter("positional_embedding", torch::randn({positions, width}) * scale);
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, patch).stride(patch).bias(false)));
  ln_pre = register_module("ln_pre", layer_norm(width));
  auto transformer = register_module("transformer", std::make_shared<torch::nn::Module>());
  auto resblocks = transformer->register_module("resblocks", torch::nn::ModuleList());
  for (int i = 0; i < layers; ++i) {
    blocks.push_back(std::make_shared<ClipBlock>(width, heads));
    resblocks->push_back(blocks.back());
  }
  ln_post = register_module("ln_post", layer_norm(width));
}

torch::Tensor ClipVision::forward(const torch::Tensor& images) { return all_tokens(images).slice(1, 1); }

torch::Tensor ClipVision::all_tokens(const torch::Tensor& images) {
  auto x = conv1(images).flatten(2).transpose(1, 2);  // B x grid^2 x width
  const auto batch = x.size(0);
  const int grid = static_cast<int>(images.size(2) / patch);
  auto cls = class_embedding.expand({batch, 1, x.size(2)});
  x = torch::cat({cls, x}, 1);
  auto positions = torch::cat({positional_embedding.slice(0, 0, 1),
                               interpolate_position_table(positional_embedding.slice(0, 1), grid)});
  x = ln_pre(x + positions);
  for (auto& block : blocks) x = block->forward(x);
  return ln_post(x);
}

}  // namespace tokenflow::nn
