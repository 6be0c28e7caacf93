#include "nn/products.h"

namespace tokenflow::nn {

namespace {

bool cpu_has_avx512_core() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512dq");
  return has;
#else
  return false;
#endif
}

}  // namespace

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
