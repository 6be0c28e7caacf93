#include "nn/siglip_vision.h"

#include "nn/attention.h"
#include "nn/linear.h"

#include <cmath>

namespace tokenflow::nn {

namespace {

torch::nn::LayerNorm layer_norm(int width) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6)); }

torch::Tensor gelu_tanh(const torch::Tensor& x) {
  return torch::nn::functional::gelu(x, torch::nn::functional::GELUFuncOptions().approximate("tanh"));
}

}  // namespace

SiglipLayer::SiglipLayer(int width, int mlp_width, int heads) : heads(heads) {
  auto self_attn = register_module("self_attn", std::make_shared<torch::nn::Module>());
  k_proj = self_attn->register_module("k_proj", torch::nn::Linear(width, width));
  v_proj = self_attn->register_module("v_proj", torch::nn::Linear(width, width));
  q_proj = self_attn->register_module("q_proj", torch::nn::Linear(width, width));
  out_proj = self_attn->register_module("out_proj", torch::nn::Linear(width, width));
  layer_norm1 = register_module("layer_norm1", layer_norm(width));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1 = mlp->register_module("fc1", torch::nn::Linear(width, mlp_width));
  fc2 = mlp->register_module("fc2", torch::nn::Linear(mlp_width, width));
  layer_norm2 = register_module("layer_norm2", layer_norm(width));
}

torch::Tensor SiglipLayer::forward(const torch::Tensor& x) {
  auto h = layer_norm1(x);
  auto y = x + linear(multi_head_attention(linear(h, q_proj), linear(h, k_proj), linear(h, v_proj), heads), out_proj);
  return y + linear(gelu_tanh(linear(layer_norm2(y), fc1)), fc2);
}

SiglipPoolingHead::SiglipPoolingHead(int width, int mlp_width) {
  register_parameter("probe", torch::randn({1, 1, width}));
  auto attention = register_module("attention", std::make_shared<torch::nn::Module>());
  const double bound = std::sqrt(6.0 / (4.0 * width));
  attention->register_parameter("in_proj_weight", torch::empty({3 * width, width}).uniform_(-bound, bound));
  attention->register_parameter("in_proj_bias", torch::zeros({3 * width}));
  attention->register_module("out_proj", torch::nn::Linear(width, width));
  register_module("layernorm", layer_norm(width));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  mlp->register_module("fc1", torch::nn::Linear(width, mlp_width));
  mlp->register_module("fc2", torch::nn::Linear(mlp_width, width));
}

SiglipVision::SiglipVision(int width, int layer_count, int heads, int mlp_width, int patch, int positions,
                           bool has_head) {
  auto vision_model = register_module("vision_model", std::make_shared<torch::nn::Module>());
  auto embeddings = vision_model->register_module("embeddings", std::make_shared<torch::nn::Module>());
  patch_embedding = embeddings->register_module(
      "patch_embedding", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, patch).stride(patch)));
  position_embedding = embeddings->register_module("position_embedding", torch::nn::Embedding(positions, width));
  auto encoder = vision_model->register_module("encoder", std::make_shared<torch::nn::Module>());
  auto layer_list = encoder->register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < layer_count; ++i) {
    layers.push_back(std::make_shared<SiglipLayer>(width, mlp_width, heads));
    layer_list->push_back(layers.back());
  }
  post_layernorm = vision_model->register_module("post_layernorm", layer_norm(width));
  if (has_head) vision_model->register_module("head", std::make_shared<SiglipPoolingHead>(width, mlp_width));
}

torch::Tensor SiglipVision::forward(const torch::Tensor& images) {
  auto x = patch_embedding(images).flatten(2).transpose(1, 2);
  x = x + position_embedding->weight.unsqueeze(0);
  // hidden_states[-2]: the output of every layer but the last.
  for (size_t i = 0; i + 1 < layers.size(); ++i) x = layers[i]->forward(x);
  return x;
}

}  // namespace tokenflow::nn
