#pragma once
// Llama's RMSNorm (LlamaRMSNorm): x / sqrt(mean(x^2) + eps) in float32, times `weight`.
#include <torch/torch.h>

namespace tokenflow::nn {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

}  // namespace tokenflow::nn
