#pragma once
// How transformers' generate() picks each next token, with the processors the official
// understanding code gets (RepetitionPenaltyLogitsProcessor, then the warpers Temperature, TopK and
// TopP when sampling), and torch.multinomial's draw, so that a seed gives the official answer.
#include "nn/transformer/sampling.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::understanding {

struct TokenChoice {
  double temperature = 0;  // 0: greedy (argmax)
  int64_t top_k = 0;       // 0: off
  double top_p = 1.0;      // 1: off
  double repetition_penalty = 1.0;
};

// What sampling draws from: the softmax of the processed, warped logits (V float32; logits: V
// float32 of the last position). `generated`: the answer's ids so far, which the penalty applies to.
torch::Tensor sampling_probabilities(const torch::Tensor& logits, const std::vector<int64_t>& generated,
                                     const TokenChoice& choice);

int64_t choose_token(const torch::Tensor& logits, const std::vector<int64_t>& generated, const TokenChoice& choice,
                     nn::SamplingGenerator& generator);

}  // namespace tokenflow::understanding
