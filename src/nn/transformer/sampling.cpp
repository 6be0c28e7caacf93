#include "nn/transformer/sampling.h"

#include <tokenflow/error.h>

#include <cmath>
#include <limits>

namespace tokenflow::nn {

SamplingGenerator::SamplingGenerator(uint64_t seed) : engine_(static_cast<uint32_t>(seed)) {}

double SamplingGenerator::uniform() {
  const uint64_t high = engine_(), low = engine_();
  constexpr uint64_t kMantissa = (uint64_t{1} << 53) - 1;
  return static_cast<double>(((high << 32) | low) & kMantissa) * 0x1p-53;
}

torch::Tensor filter_top_k_top_p(torch::Tensor logits, const TopKTopP& filter) {
  const auto vocabulary = logits.size(-1);
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  if (filter.top_k > 0) {
    const auto kept = std::min(filter.top_k, vocabulary);
    const auto threshold = std::get<0>(logits.topk(kept, -1, /*largest=*/true, /*sorted=*/false)).amin(-1, true);
    logits = logits.masked_fill(logits < threshold, minus_infinity);
  }
  if (filter.top_p > 0) {
    const auto [sorted, order] = logits.sort(-1, /*descending=*/false);
    auto remove = sorted.softmax(-1).cumsum(-1) <= (1 - filter.top_p);
    remove.narrow(-1, vocabulary - 1, 1).fill_(false);  // the largest logit always stays
    logits = logits.masked_fill(remove.scatter(-1, order, remove), minus_infinity);
  }
  return logits;
}

torch::Tensor sample_top_k_top_p(const torch::Tensor& logits, const TopKTopP& filter, SamplingGenerator& generator) {
  if (logits.dim() != 3 || logits.scalar_type() != torch::kFloat32)
    throw Error("sampling takes B x l x V float32 logits");
  const auto vocabulary = logits.size(2);
  const auto probabilities = filter_top_k_top_p(logits.cpu(), filter).softmax(-1).reshape({-1, vocabulary}).contiguous();
  const auto rows = probabilities.size(0);
  auto indices = torch::empty({rows}, torch::kInt64);
  auto* index = indices.data_ptr<int64_t>();
  std::vector<float> cumulative(static_cast<size_t>(vocabulary));
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probabilities.data_ptr<float>() + r * vocabulary;
    float sum = 0;
    for (int64_t j = 0; j < vocabulary; ++j) cumulative[j] = sum += p[j];
    if (sum > 0) {
      for (auto& value : cumulative) value /= sum;
    }
    cumulative.back() = 1;
    const double u = generator.uniform();
    int64_t left = 0, right = vocabulary;
    while (right > left) {
      const int64_t middle = left + (right - left) / 2;
      if (cumulative[middle] < u) left = middle + 1;
      else right = middle;
    }
    index[r] = left;
  }
  return indices.view({logits.size(0), logits.size(1)});
}

torch::Tensor sample_one_per_row(const torch::Tensor& probabilities, SamplingGenerator& generator) {
  if (probabilities.dim() != 2 || probabilities.scalar_type() != torch::kFloat32)
    throw Error("sampling takes R x V float32 probabilities");
  const auto p = probabilities.cpu().contiguous();
  const auto rows = p.size(0), vocabulary = p.size(1);
  auto indices = torch::empty({rows}, torch::kInt64);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = p.data_ptr<float>() + r * vocabulary;
    int64_t best = 0;
    float best_value = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < vocabulary; ++j) {
      const auto q = static_cast<float>(-std::log1p(-generator.uniform()));
      const float value = row[j] / q;
      if (value > best_value || (std::isnan(value) && !std::isnan(best_value))) {
        best = j;
        best_value = value;
      }
    }
    indices[r] = best;
  }
  return indices;
}

}  // namespace tokenflow::nn
