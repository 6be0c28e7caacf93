#pragma once
// The keys and values a decoder keeps of the positions it has computed, so that a later pass feeds
// only new positions. Keys are stored after QKNorm and RoPE, per key/value head (before grouped
// heads are repeated).
#include <torch/torch.h>

#include <vector>

namespace tokenflow::nn {

struct LayerCache {
  torch::Tensor keys, values;  // B x key_value_heads x length x head_dim; undefined while empty

  int64_t length() const { return keys.defined() ? keys.size(2) : 0; }
  // The cached keys and values followed by the new ones (B x key_value_heads x L x head_dim); kept
  // as the cache when `extend`.
  std::pair<torch::Tensor, torch::Tensor> with(const torch::Tensor& new_keys, const torch::Tensor& new_values, bool extend);
};

struct KeyValueCache {
  std::vector<LayerCache> layers;

  explicit KeyValueCache(size_t layer_count = 0) : layers(layer_count) {}
  int64_t length() const { return layers.empty() ? 0 : layers.front().length(); }
  // The first `length` positions, as views (no copy): a pass that recomputes later positions
  // attends to these without disturbing the cache.
  KeyValueCache prefix(int64_t length) const;
};

}  // namespace tokenflow::nn
