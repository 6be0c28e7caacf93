#include "model/understanding/prompt_cache.h"

#include <tokenflow/error.h>

#include <algorithm>

namespace tokenflow::understanding {

PromptCache::PromptCache(const LlavaQwenModel& model, torch::Tensor images) : model_(model), images_(std::move(images)) {}

int64_t PromptCache::positions_of(const std::vector<int64_t>& ids) const {
  const auto image_positions = images_.defined() ? images_.size(1) : 0;
  int64_t positions = 0;
  for (const auto id : ids) positions += id == kImageToken ? image_positions : 1;
  return positions;
}

torch::Tensor PromptCache::forward(const torch::Tensor& embeddings) {
  const auto cached = cache_.length(), length = embeddings.size(1);
  const auto options = torch::TensorOptions().dtype(embeddings.scalar_type()).device(embeddings.device());
  const auto mask = length > 1 ? nn::causal_mask(cached, length, options) : torch::Tensor();
  const auto positions = torch::arange(cached, cached + length, options.dtype(torch::kInt64)).unsqueeze(0);
  const auto hidden = model_.decoder.forward(embeddings, mask, positions, cache_, /*extend=*/true).last;
  return model_.logits(hidden[0][length - 1]);
}

torch::Tensor PromptCache::prefill(const std::vector<int64_t>& ids, int64_t context) {
  if (ids.empty()) throw Error("the prompt is empty");
  const auto total = positions_of(ids);
  if (total > context) {
    throw Error("the conversation takes " + std::to_string(total) + " positions, more than the model's context of " +
                std::to_string(context));
  }
  // The shared prefix, less the last id, whose logits are wanted.
  const auto shared = static_cast<size_t>(std::mismatch(ids_.begin(), ids_.end(), ids.begin(), ids.end()).first - ids_.begin());
  const auto kept = std::min(shared, ids.size() - 1);
  const std::vector<int64_t> kept_ids(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kept));
  const auto kept_positions = positions_of(kept_ids);
  if (kept_positions < cache_.length()) cache_ = cache_.prefix(kept_positions);
  ids_ = kept_ids;

  const std::vector<int64_t> rest(ids.begin() + static_cast<std::ptrdiff_t>(kept), ids.end());
  const auto images_before = std::count(kept_ids.begin(), kept_ids.end(), kImageToken);
  const auto images_in_rest = std::count(rest.begin(), rest.end(), kImageToken);
  if (images_in_rest > 0 && (!images_.defined() || images_before + images_in_rest > images_.size(0))) {
    throw Error("the prompt has more images than the conversation");
  }
  const auto images = images_in_rest > 0 ? images_.narrow(0, images_before, images_in_rest) : torch::Tensor();
  auto logits = forward(model_.embed(rest, images));
  ids_.insert(ids_.end(), rest.begin(), rest.end());
  computed_ = positions_of(rest);
  return logits;
}

torch::Tensor PromptCache::step(int64_t id) {
  auto logits = forward(model_.embed({id}, torch::Tensor()));
  ids_.push_back(id);
  return logits;
}

}  // namespace tokenflow::understanding
