#include "nn/products.h"

#include "runtime/cpu_features.h"

namespace tokenflow::nn {

bool bf16_sums_rounded(const torch::Tensor& x) {
  return x.scalar_type() == torch::kBFloat16 && x.is_cpu() && !cpu_has_avx512_core();
}

torch::Tensor matmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (!bf16_sums_rounded(a)) return torch::matmul(a, b);
  return torch::matmul(a.to(torch::kFloat32), b.to(torch::kFloat32)).to(torch::kBFloat16);
}

torch::Tensor bmm(const torch::Tensor& a, const torch::Tensor& b) {
  if (!bf16_sums_rounded(a)) return torch::bmm(a, b);
  return torch::bmm(a.to(torch::kFloat32), b.to(torch::kFloat32)).to(torch::kBFloat16);
}

}  // namespace tokenflow::nn
