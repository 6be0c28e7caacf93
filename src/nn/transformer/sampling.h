#pragma once
// The official code's samplers and their random source, so that a seed gives the official tokens:
// the generator's `sample_with_top_k_top_p_` (t2i/llava_t2i/model/language_model/llava_llama.py) and
// the understanding model's, transformers' warpers before `torch.multinomial(probs, 1)`.
#include <torch/torch.h>

#include <cstdint>
#include <random>

namespace tokenflow::nn {

// PyTorch 1.13's CPU generator as `torch.Generator(device="cpu").manual_seed(seed)` builds it, of which
// `torch.multinomial` draws one double per sampled row: MT19937 seeded with the seed's low 32 bits, the
// double made of two consecutive outputs (the first as the high word), 53 bits of it times 2^-53.
// PyTorch 2.x samples differently, so the draws are implemented here rather than taken from LibTorch.
class SamplingGenerator {
 public:
  explicit SamplingGenerator(uint64_t seed);
  double uniform();

 private:
  std::mt19937 engine_;
};

struct TopKTopP {
  int64_t top_k = 0;   // keep the logits >= the k-th largest (ties stay); 0: off
  double top_p = 0.0;  // keep the smallest set of largest logits whose probability exceeds p; 0: off
};

// logits: B x l x V (float32). The filtered logits' softmax, sampled one index per row as PyTorch
// 1.13's `multinomial(..., 1, replacement=True)` does: the row's running float sum, divided by its
// total, the last entry set to 1, and the first index whose cumulative value is >= the uniform.
// Returns B x l int64 indices into V.
torch::Tensor sample_top_k_top_p(const torch::Tensor& logits, const TopKTopP& filter, SamplingGenerator& generator);

// The logits `sample_top_k_top_p` samples from: entries outside top-k and top-p set to -inf.
torch::Tensor filter_top_k_top_p(torch::Tensor logits, const TopKTopP& filter);

// One index per row of `probabilities` (R x V float32), as PyTorch 1.13's CPU `multinomial(p, 1)`
// (without replacement) draws it: q ~ Exp(1) per entry, -log(1 - u) of the generator's doubles
// rounded to float32, and the first argmax of p / q. Returns R int64 indices.
torch::Tensor sample_one_per_row(const torch::Tensor& probabilities, SamplingGenerator& generator);

}  // namespace tokenflow::nn
