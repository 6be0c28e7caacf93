// Products of bfloat16 tensors sum in float32 on every CPU (nn/products.h), as oneDNN's do: against the
// exact product of the same bfloat16 operands, only the result's rounding to bfloat16 remains (1.7e-3
// relative on these shapes), where LibTorch 1.13's fallback GEMM on CPUs without AVX-512 gave 3.9e-2
// (both measured with Debian's python3-torch 1.13 on the same tensors).
#include "nn/linear.h"
#include "nn/products.h"

#include <gtest/gtest.h>

namespace tokenflow::nn {
namespace {

double relative_error(const torch::Tensor& actual, const torch::Tensor& exact) {
  return ((actual.to(torch::kDouble) - exact).norm() / exact.norm()).item<double>();
}

TEST(Bf16Products, SumInFloat32) {
  torch::manual_seed(0);
  const auto a = torch::randn({256, 1152}), b = torch::randn({1152, 512}) / 30;
  const auto a16 = a.to(torch::kBFloat16), b16 = b.to(torch::kBFloat16);
  const auto exact = torch::matmul(a16.to(torch::kDouble), b16.to(torch::kDouble));

  const auto product = nn::matmul(a16, b16);
  EXPECT_EQ(product.scalar_type(), torch::kBFloat16);
  EXPECT_LT(relative_error(product, exact), 5e-3);
  EXPECT_LT(relative_error(nn::bmm(a16.unsqueeze(0), b16.unsqueeze(0)).squeeze(0), exact), 5e-3);
  EXPECT_LT(relative_error(linear(a16, b16.t().contiguous(), torch::Tensor()), exact), 5e-3);
}

TEST(Bf16Products, LeaveOtherTypesToLibTorch) {
  const auto a = torch::randn({8, 16}), b = torch::randn({16, 4});
  EXPECT_FALSE(bf16_sums_rounded(a));
  EXPECT_TRUE(torch::equal(nn::matmul(a, b), torch::matmul(a, b)));
}

}  // namespace
}  // namespace tokenflow::nn
