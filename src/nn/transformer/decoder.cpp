#include "nn/transformer/decoder.h"

#include "nn/products.h"

#include <cmath>
#include <limits>

namespace tokenflow::nn {

namespace {

// B x L x (heads * head_dim) -> B x heads x L x head_dim.
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

// Grouped-query attention: each key/value head serves heads / key_value_heads consecutive query heads.
torch::Tensor repeat_heads(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  return x.unsqueeze(2).expand({x.size(0), x.size(1), groups, x.size(2), x.size(3)}).flatten(1, 2);
}

}  // namespace

DecoderLayer::DecoderLayer(const DecoderConfig& config, const TensorTable& weights, WeightFormat format) : config_(config) {
  const auto hidden = config.hidden_size, head_dim = config.head_dim();
  const auto queries = config.heads * head_dim, kv = config.key_value_heads * head_dim, inner = config.intermediate_size;
  auto projection = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    return LinearWeight::in_format(format, weights.take(name + ".weight", {out, in}),
                                   bias ? weights.take(name + ".bias", {out}) : torch::Tensor());
  };
  const bool bias = config.attention_bias;
  q_proj = projection("self_attn.q_proj", queries, hidden, bias);
  k_proj = projection("self_attn.k_proj", kv, hidden, bias);
  v_proj = projection("self_attn.v_proj", kv, hidden, bias);
  o_proj = projection("self_attn.o_proj", hidden, queries, false);
  gate_proj = projection("mlp.gate_proj", inner, hidden, false);
  up_proj = projection("mlp.up_proj", inner, hidden, false);
  down_proj = projection("mlp.down_proj", hidden, inner, false);
  auto norm = [&](const std::string& name, int64_t size, double eps) {
    return RMSNorm(weights.take(name + ".weight", {size}), eps);
  };
  if (config.qk_norm) {
    query_norm = norm("self_attn.qknorm.query_norm", head_dim, config.qk_norm_eps);
    key_norm = norm("self_attn.qknorm.key_norm", head_dim, config.qk_norm_eps);
  }
  input_layernorm = norm("input_layernorm", hidden, config.rms_norm_eps);
  post_attention_layernorm = norm("post_attention_layernorm", hidden, config.rms_norm_eps);
}

torch::Tensor DecoderLayer::attention(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles,
                                      LayerCache& cache, bool extend) const {
  auto q = split_heads(q_proj(x), config_.heads);
  auto k = split_heads(k_proj(x), config_.key_value_heads);
  auto v = split_heads(v_proj(x), config_.key_value_heads);
  if (config_.qk_norm) {
    q = query_norm(q);
    k = key_norm(k);
  }
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
  return o_proj(out);
}

torch::Tensor DecoderLayer::mlp(const torch::Tensor& x) const {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

torch::Tensor DecoderLayer::forward(const torch::Tensor& x, const torch::Tensor& mask, const RotaryAngles& angles,
                                    LayerCache& cache, bool extend) const {
  if (config_.norm_placement == NormPlacement::SublayerOutput) {
    const auto h = x + input_layernorm(attention(x, mask, angles, cache, extend));
    return h + post_attention_layernorm(mlp(h));
  }
  const auto h = x + attention(input_layernorm(x), mask, angles, cache, extend);
  return h + mlp(post_attention_layernorm(h));
}

int64_t DecoderLayer::weight_bytes() const {
  int64_t total = 0;
  for (const auto* p : {&q_proj, &k_proj, &v_proj, &o_proj, &gate_proj, &up_proj, &down_proj}) total += p->bytes();
  return total;
}

TransformerDecoder::TransformerDecoder(const DecoderConfig& config, const TensorTable& weights, WeightFormat format)
    : config(config), rotary_(config.head_dim(), config.rope_theta), options_(weights.options()) {
  embed_tokens = LinearWeight::in_format(format, weights.take("embed_tokens.weight", {config.vocabulary, config.hidden_size}),
                                         torch::Tensor());
  for (int64_t i = 0; i < config.layers; ++i) {
    layers.emplace_back(config, weights.under("layers." + std::to_string(i) + "."), format);
  }
  norm = RMSNorm(weights.take("norm.weight", {config.hidden_size}), config.rms_norm_eps);
}

torch::Tensor TransformerDecoder::embed(const torch::Tensor& ids) const { return embed_tokens.rows(ids, options_.dtype().toScalarType()); }

TransformerDecoder::Output TransformerDecoder::forward(const torch::Tensor& embeddings, const torch::Tensor& mask, const torch::Tensor& positions,
                                 KeyValueCache& cache, bool extend) const {
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

TransformerDecoder::Output TransformerDecoder::forward(const torch::Tensor& embeddings, const torch::Tensor& mask,
                                 const torch::Tensor& positions) const {
  KeyValueCache none;
  return forward(embeddings, mask, positions, none, /*extend=*/false);
}

torch::Tensor causal_mask(int64_t cached, int64_t length, const torch::TensorOptions& options) {
  const auto keys = torch::arange(cached + length, options.dtype(torch::kInt64)).view({1, -1});
  const auto queries = torch::arange(cached, cached + length, options.dtype(torch::kInt64)).view({-1, 1});
  const auto lowest = std::numeric_limits<float>::lowest();
  return torch::zeros({length, cached + length}, options.dtype(torch::kFloat32))
      .masked_fill(keys > queries, lowest)
      .to(options.dtype())
      .view({1, 1, length, cached + length});
}

}  // namespace tokenflow::nn
