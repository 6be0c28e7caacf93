#include "nn/transformer/kv_cache.h"

namespace tokenflow::nn {

std::pair<torch::Tensor, torch::Tensor> LayerCache::with(const torch::Tensor& new_keys, const torch::Tensor& new_values,
                                                         bool extend) {
  auto all_keys = keys.defined() ? torch::cat({keys, new_keys}, 2) : new_keys;
  auto all_values = values.defined() ? torch::cat({values, new_values}, 2) : new_values;
  if (extend) {
    keys = all_keys;
    values = all_values;
  }
  return {all_keys, all_values};
}

KeyValueCache KeyValueCache::prefix(int64_t length) const {
  KeyValueCache view(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].keys.defined()) continue;
    view.layers[i].keys = layers[i].keys.narrow(2, 0, length);
    view.layers[i].values = layers[i].values.narrow(2, 0, length);
  }
  return view;
}

}  // namespace tokenflow::nn
