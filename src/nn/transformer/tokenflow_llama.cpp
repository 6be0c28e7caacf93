#include "nn/transformer/tokenflow_llama.h"

#include "nn/linear.h"

#include <cmath>

namespace tokenflow::nn {

namespace {

torch::nn::Linear projection(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

// B x L x (heads * head_dim) -> B x heads x L x head_dim.
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

// Grouped-query attention: each key/value head serves heads / key_value_heads query heads.
torch::Tensor repeat_heads(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  return x.unsqueeze(2).expand({x.size(0), x.size(1), groups, x.size(2), x.size(3)}).flatten(1, 2);
}

}  // namespace

TokenFlowLlamaLayerImpl::TokenFlowLlamaLayerImpl(const LlamaConfig& config) : config_(config) {
  const auto hidden = config.hidden_size, kv = config.key_value_heads * config.head_dim();
  auto attention = register_module("self_attn", std::make_shared<torch::nn::Module>());
  q_proj = attention->register_module("q_proj", projection(hidden, hidden));
  k_proj = attention->register_module("k_proj", projection(hidden, kv));
  v_proj = attention->register_module("v_proj", projection(hidden, kv));
  o_proj = attention->register_module("o_proj", projection(hidden, hidden));
  auto qknorm = attention->register_module("qknorm", std::make_shared<torch::nn::Module>());
  query_norm = qknorm->register_module("query_norm", RMSNorm(config.head_dim(), config.qk_norm_eps));
  key_norm = qknorm->register_module("key_norm", RMSNorm(config.head_dim(), config.qk_norm_eps));
  auto feed_forward = register_module("mlp", std::make_shared<torch::nn::Module>());
  gate_proj = feed_forward->register_module("gate_proj", projection(hidden, config.intermediate_size));
  up_proj = feed_forward->register_module("up_proj", projection(hidden, config.intermediate_size));
  down_proj = feed_forward->register_module("down_proj", projection(config.intermediate_size, hidden));
  input_layernorm = register_module("input_layernorm", RMSNorm(hidden, config.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(hidden, config.rms_norm_eps));
}

torch::Tensor TokenFlowLlamaLayerImpl::attention(const torch::Tensor& x, const torch::Tensor& mask,
                                                 const RotaryAngles& angles) {
  auto q = query_norm(split_heads(linear(x, q_proj), config_.heads));
  auto k = key_norm(split_heads(linear(x, k_proj), config_.key_value_heads));
  auto v = split_heads(linear(x, v_proj), config_.key_value_heads);
  q = apply_rotary(q, angles);
  k = apply_rotary(k, angles);
  const auto groups = config_.heads / config_.key_value_heads;
  k = repeat_heads(k, groups);
  v = repeat_heads(v, groups);
  auto scores = torch::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(config_.head_dim()));
  if (mask.defined()) scores = scores + mask;
  const auto weights = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  const auto out = torch::matmul(weights, v).transpose(1, 2).reshape({x.size(0), x.size(1), -1});
  return linear(out, o_proj);
}

torch::Tensor TokenFlowLlamaLayerImpl::mlp(const torch::Tensor& x) {
  return linear(torch::silu(linear(x, gate_proj)) * linear(x, up_proj), down_proj);
}

torch::Tensor TokenFlowLlamaLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                               const RotaryAngles& angles) {
  const auto h = x + input_layernorm(attention(x, mask, angles));
  return h + post_attention_layernorm(mlp(h));
}

TokenFlowLlamaImpl::TokenFlowLlamaImpl(const LlamaConfig& config)
    : config(config), rotary_(config.head_dim(), config.rope_theta) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(config.vocabulary, config.hidden_size));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.layers; ++i) {
    layers.push_back(TokenFlowLlamaLayer(config));
    list->push_back(layers.back());
  }
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps));
}

TokenFlowLlamaImpl::Output TokenFlowLlamaImpl::forward(const torch::Tensor& embeddings, const torch::Tensor& mask,
                                                       const torch::Tensor& positions) {
  const auto angles = rotary_.angles(positions);
  Output output;
  auto h = embeddings;
  for (auto& layer : layers) {
    output.hidden.push_back(h);
    h = layer(h, mask, angles);
  }
  output.last = norm(h);
  return output;
}

}  // namespace tokenflow::nn
