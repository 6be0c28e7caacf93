#pragma once
// The key/value cache of a conversation: the positions the decoder has computed, keyed by the ids
// they came from, so that each turn computes only what follows the longest prefix it shares with the
// cache (the official cli.py recomputes the whole conversation at every turn; the results are the
// same up to float rounding).
#include "model/understanding/llava_qwen_model.h"
#include "nn/transformer/kv_cache.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::understanding {

class PromptCache {
 public:
  // model: outlives the cache. images: the projected features of the prompt's kImageToken markers
  // (N x tokens x hidden), fixed for the conversation.
  PromptCache(const LlavaQwenModel& model, torch::Tensor images);

  // Computes the positions of `ids` the cache does not hold (at least the last one) and returns the
  // last position's logits (V float32). Throws tokenflow::Error when the prompt's positions exceed
  // `context`.
  torch::Tensor prefill(const std::vector<int64_t>& ids, int64_t context);
  // Feeds one generated token after the cached positions and returns its logits.
  torch::Tensor step(int64_t id);

  int64_t positions() const { return cache_.length(); }
  int64_t computed_by_last_prefill() const { return computed_; }
  // Positions `ids` takes once spliced (an image marker takes the image's tokens).
  int64_t positions_of(const std::vector<int64_t>& ids) const;

 private:
  torch::Tensor forward(const torch::Tensor& embeddings);

  const LlavaQwenModel& model_;
  torch::Tensor images_;
  std::vector<int64_t> ids_;  // the ids whose positions the cache holds, in order
  nn::KeyValueCache cache_;
  int64_t computed_ = 0;
};

}  // namespace tokenflow::understanding
