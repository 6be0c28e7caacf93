#pragma once
// Llama's RMSNorm (LlamaRMSNorm): x / sqrt(mean(x^2) + eps) in float32, times `weight`.
#include <torch/torch.h>

namespace tokenflow::nn {

class RMSNorm {
 public:
  RMSNorm() = default;
  // weight: the checkpoint's (size).
  RMSNorm(torch::Tensor weight, double eps) : weight(std::move(weight)), eps(eps) {}
  torch::Tensor operator()(const torch::Tensor& x) const;

  torch::Tensor weight;
  double eps = 1e-6;
};

}  // namespace tokenflow::nn
