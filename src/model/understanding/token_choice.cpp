#include "model/understanding/token_choice.h"

namespace tokenflow::understanding {

namespace {

// RepetitionPenaltyLogitsProcessor: each id already generated has its logit divided by the penalty
// where positive, multiplied where negative. With inputs_embeds, generate()'s input_ids hold only the
// answer, so the prompt is not penalised.
torch::Tensor penalised(const torch::Tensor& logits, const std::vector<int64_t>& generated, double penalty) {
  if (penalty == 1.0 || generated.empty()) return logits;
  const auto ids = torch::tensor(generated, torch::kInt64).to(logits.device());
  const auto scores = logits.gather(0, ids);
  return logits.scatter(0, ids, torch::where(scores < 0, scores * penalty, scores / penalty));
}

}  // namespace

torch::Tensor sampling_probabilities(const torch::Tensor& logits, const std::vector<int64_t>& generated,
                                     const TokenChoice& choice) {
  auto scores = penalised(logits, generated, choice.repetition_penalty);
  if (choice.temperature != 1.0) scores = scores / choice.temperature;
  const nn::TopKTopP filter{choice.top_k, choice.top_p < 1.0 ? choice.top_p : 0.0};
  return nn::filter_top_k_top_p(scores.unsqueeze(0), filter).softmax(-1).squeeze(0);
}

int64_t choose_token(const torch::Tensor& logits, const std::vector<int64_t>& generated, const TokenChoice& choice,
                     nn::SamplingGenerator& generator) {
  if (choice.temperature <= 0) return penalised(logits, generated, choice.repetition_penalty).argmax().item<int64_t>();
  return nn::sample_one_per_row(sampling_probabilities(logits, generated, choice).unsqueeze(0), generator)[0].item<int64_t>();
}

}  // namespace tokenflow::understanding
