#include "nn/transformer/tokenflow_llama.h"

#include "nn/linear.h"
#include "nn/products.h"

#include <cmath>

namespace tokenflow::nn {

namespace {

// B x L x (heads * head_dim) -> B x heads x L x head_dim.
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

// Grouped-query attention: each key/value head serves heads / key_value_heads query heads.
torch::Tensor repeat_heads(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  return x.unsqueeze(2).expand({x.size(0), x.size(1), groups, x.size(2), x.size(3)}).flatten(1, 2);
}

torch::Tensor no_bias;

}  // namespace

TokenFlowLlamaLayer::TokenFlowLlamaLayer(const LlamaConfig& config, const TensorTable& weights) : config_(config) {
  const auto hidden = config.hidden_size, head_dim = config.head_dim();
  const auto kv = config.key_value_heads * head_dim, inner = config.intermediate_size;
  auto take = [&](const std::string& name, torch::IntArrayRef shape) { return weights.take(name, shape); };
  q_proj = take("self_attn.q_proj.weight", {hidden, hidden});
  k_proj = take("self_attn.k_proj.weight", {kv, hidden});
  v_proj = take("self_attn.v_proj.weight", {kv, hidden});
  o_proj = take("self_attn.o_proj.weight", {hidden, hidden});
  gate_proj = take("mlp.gate_proj.weight", {inner, hidden});
  up_proj = take("mlp.up_proj.weight", {inner, hidden});
  down_proj = take("mlp.down_proj.weight", {hidden, inner});
  auto norm = [&](const std::string& name, int64_t size, double eps) {
    return RMSNorm(weights.take(name + ".weight", {size}), eps);
  };
  query_norm = norm("self_attn.qknorm.query_norm", head_dim, config.qk_norm_eps);
  key_norm = norm("self_attn.qknorm.key_norm", head_dim, config.qk_norm_eps);
  input_layernorm = norm("input_layernorm", hidden, config.rms_norm_eps);
  post_attention_layernorm = norm("post_attention_layernorm", hidden, config.rms_norm_eps);
}

torch::Tensor TokenFlowLlamaLayer::attention(const torch::Tensor& x, const torch::Tensor& mask,
                                                 const RotaryAngles& angles, LayerCache& cache, bool extend) const {
  auto q = query_norm(split_heads(linear(x, q_proj, no_bias), config_.heads));
  auto k = key_norm(split_heads(linear(x, k_proj, no_bias), config_.key_value_heads));
  auto v = split_heads(linear(x, v_proj, no_bias), config_.key_value_heads);
  q = apply_rotary(q, angles);
  k = apply_rotary(k, angles);
  std::tie(k, v) = cache.with(k, v, extend);
  const auto groups = config_.heads / config_.key_value_heads;
  k = repeat_heads(k, groups);
  v = repeat_heads(v, groups);
  auto scores = nn::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(config_.head_dim()));
  if (mask.defined()) scores = scores + mask;
  const auto weights = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  const auto out = nn::matmul(weights, v).transpose(1, 2).reshape({x.size(0), x.size(1), -1});
  return linear(out, o_proj, no_bias);
}

torch::Tensor TokenFlowLlamaLayer::mlp(const torch::Tensor& x) const {
  return linear(torch::silu(linear(x, gate_proj, no_bias)) * linear(x, up_proj, no_bias), down_proj, no_bias);
}

torch::Tensor TokenFlowLlamaLayer::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                               const RotaryAngles& angles, LayerCache& cache, bool extend) const {
  const auto h = x + input_layernorm(attention(x, mask, angles, cache, extend));
  return h + post_attention_layernorm(mlp(h));
}

TokenFlowLlama::TokenFlowLlama(const LlamaConfig& config, const TensorTable& weights)
    : config(config), rotary_(config.head_dim(), config.rope_theta) {
  embed_tokens = weights.take("embed_tokens.weight", {config.vocabulary, config.hidden_size});
  for (int64_t i = 0; i < config.layers; ++i) {
    layers.emplace_back(config, weights.under("layers." + std::to_string(i) + "."));
  }
  norm = RMSNorm(weights.take("norm.weight", {config.hidden_size}), config.rms_norm_eps);
}

torch::Tensor TokenFlowLlama::embed(const torch::Tensor& ids) const { return embed_tokens.index({ids}); }

TokenFlowLlama::Output TokenFlowLlama::forward(const torch::Tensor& embeddings, const torch::Tensor& mask,
                                                       const torch::Tensor& positions, KeyValueCache& cache, bool extend) const {
  if (cache.layers.size() != layers.size()) cache = KeyValueCache(layers.size());
  const auto angles = rotary_.angles(positions);
  Output output;
  auto h = embeddings;
  for (size_t i = 0; i < layers.size(); ++i) {
    output.hidden.push_back(h);
    h = layers[i].forward(h, mask, angles, cache.layers[i], extend);
  }
  output.last = norm(h);
  return output;
}

TokenFlowLlama::Output TokenFlowLlama::forward(const torch::Tensor& embeddings, const torch::Tensor& mask,
                                                       const torch::Tensor& positions) const {
  KeyValueCache none;
  return forward(embeddings, mask, positions, none, /*extend=*/false);
}

}  // namespace tokenflow::nn
