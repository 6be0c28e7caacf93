#pragma once
// The generator's attention mask, as prepare_inputs_labels_for_multimodal_generation builds it:
// causal, keys that are padding blocked for every query, and over the image block (positions
// first .. first + N - 1, where position first + j carries the input that predicts image token j)
// a query sees a key iff the key's scale is not later than its own.
#include <torch/torch.h>

#include <vector>

namespace tokenflow::generator {

// key_not_pad: B x L bool. scales: the side of each scale (1, 2, 4, ...). Returns B x L x L bool,
// query x key, true where the query attends.
torch::Tensor attention_allowed(const torch::Tensor& key_not_pad, int64_t first, const std::vector<int64_t>& scales);

// As added to the scores: 0 where allowed, the lowest float32 elsewhere (B x 1 x L x L). A query that
// may see nothing (a padding position) then attends uniformly, as in the official code.
torch::Tensor additive_mask(const torch::Tensor& allowed);

}  // namespace tokenflow::generator
