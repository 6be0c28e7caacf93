// Weight-only int8 (nn::LinearWeight) against the dense product with the dequantised weight, the
// int8_matvec kernel for the row counts decoding uses, and the random TensorTable the benchmarks
// build full-size models from.
#include "nn/transformer/linear_weight.h"
#include "nn/weights.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tokenflow::nn {
namespace {

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max() / b.to(torch::kDouble).abs().max()).item<double>();
}

TEST(LinearWeight, Int8IsTheRoundedWeightOverItsRowScale) {
  torch::manual_seed(0);
  auto w = torch::randn({37, 70});
  w[5].zero_();
  const auto q = LinearWeight::int8(w, torch::Tensor());
  ASSERT_TRUE(q.is_int8());
  const auto scale = w.abs().amax(1) / 127.0;
  const auto back = q.dense(torch::kFloat32);
  // Each weight within half a step of its row's scale; the zero row stays zero; each row's largest
  // weight is exact up to float rounding.
  EXPECT_TRUE(((back - w).abs() <= scale.masked_fill(scale == 0, 1).unsqueeze(1) * 0.5 + 1e-7).all().item<bool>());
  EXPECT_EQ(back[5].abs().max().item<float>(), 0.0f);
  EXPECT_LE(relative_difference(back.abs().amax(1), w.abs().amax(1)), 1e-6);
  EXPECT_EQ(q.bytes(), 37 * 70 + 37 * 4);
}

TEST(LinearWeight, Int8ProductEqualsTheDequantisedOneForEveryRowCount) {
  torch::manual_seed(1);
  // 70 inputs: four steps of 16 and a tail of 6.
  const auto w = torch::randn({300, 70}), bias = torch::randn({300});
  const auto q = LinearWeight::int8(w, bias);
  const auto dense = q.dense(torch::kFloat32);
  for (const int64_t rows : {1, 2, 3, 4, 5, 8, 9, 40}) {
    const auto x = torch::randn({rows, 70});
    const auto expected = torch::addmm(bias, x, dense.t());
    EXPECT_LE(relative_difference(q(x), expected), 1e-5) << rows << " rows";
  }
  // Batch and sequence dimensions, and bfloat16 activations.
  const auto x = torch::randn({2, 3, 70});
  EXPECT_EQ(q(x).sizes(), (std::vector<int64_t>{2, 3, 300}));
  EXPECT_LE(relative_difference(q(x), torch::matmul(x, dense.t()) + bias), 1e-5);
  const auto half = q(x.to(torch::kBFloat16));
  EXPECT_EQ(half.scalar_type(), torch::kBFloat16);
  EXPECT_LE(relative_difference(half, torch::matmul(x, dense.t()) + bias), 2e-2);
}

TEST(LinearWeight, DenseIsTheCheckpointsProductAndNarrowKeepsRows) {
  torch::manual_seed(2);
  const auto w = torch::randn({20, 16}), x = torch::randn({3, 16});
  const LinearWeight dense(w, torch::Tensor());
  EXPECT_FALSE(dense.is_int8());
  EXPECT_TRUE(torch::allclose(dense(x), x.mm(w.t()), 1e-5, 1e-5));
  const auto q = LinearWeight::int8(w, torch::Tensor()).narrow(0, 4);
  EXPECT_EQ(q.out_features(), 4);
  EXPECT_LE(relative_difference(q(x), x.mm(LinearWeight::int8(w, torch::Tensor()).dense(torch::kFloat32).narrow(0, 0, 4).t())), 1e-6);
}

TEST(TensorTable, RandomTablesDrawReproducibleTensors) {
  const auto a = TensorTable::random("random", torch::kFloat32, 7), b = TensorTable::random("random", torch::kFloat32, 7);
  const auto m = a.under("layers.0.").take("q_proj.weight", {64, 32});
  EXPECT_TRUE(torch::equal(m, b.under("layers.0.").take("q_proj.weight", {64, 32})));
  EXPECT_NEAR(m.std().item<double>(), 0.02, 0.002);
  const auto v = a.take("norm.weight", {4096});
  EXPECT_NEAR(v.mean().item<double>(), 1.0, 0.01);
  EXPECT_EQ(a.taken_elements(), 64 * 32 + 4096);
  EXPECT_TRUE(a.contains("anything"));
  EXPECT_EQ(TensorTable::random("random", torch::kBFloat16, 7).take("w", {3, 3}).scalar_type(), torch::kBFloat16);
}

}  // namespace
}  // namespace tokenflow::nn
