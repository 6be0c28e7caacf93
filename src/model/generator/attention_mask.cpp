#include "model/generator/attention_mask.h"

#include <limits>

namespace tokenflow::generator {

torch::Tensor attention_allowed(const torch::Tensor& key_not_pad, int64_t first, const std::vector<int64_t>& scales) {
  const auto batch = key_not_pad.size(0), length = key_not_pad.size(1);
  auto allowed = torch::ones({length, length}, torch::kBool).tril().unsqueeze(0) & key_not_pad.unsqueeze(1);
  std::vector<int64_t> scale_of;
  for (size_t s = 0; s < scales.size(); ++s) scale_of.insert(scale_of.end(), scales[s] * scales[s], static_cast<int64_t>(s));
  const auto tokens = std::min<int64_t>(static_cast<int64_t>(scale_of.size()), length - first);
  const auto scale = torch::tensor(scale_of).narrow(0, 0, tokens);
  const auto block = scale.unsqueeze(1) >= scale.unsqueeze(0);  // query scale >= key scale
  allowed.narrow(1, first, tokens).narrow(2, first, tokens).copy_(block.unsqueeze(0).expand({batch, tokens, tokens}));
  return allowed;
}

torch::Tensor additive_mask(const torch::Tensor& allowed) {
  const auto blocked = torch::full({}, std::numeric_limits<float>::lowest());
  return torch::where(allowed, torch::zeros({}), blocked).unsqueeze(1);
}

}  // namespace tokenflow::generator
