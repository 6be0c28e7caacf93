#include "nn/transformer/rotary.h"

namespace tokenflow::nn {

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double theta)
    : inverse_frequencies_(1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, torch::kInt64).to(torch::kFloat32) /
                                                       static_cast<double>(head_dim))) {}

RotaryAngles RotaryEmbedding::angles(const torch::Tensor& positions) const {
  const auto batch = positions.size(0);
  const auto frequencies = inverse_frequencies_.to(positions.device()).view({1, -1, 1}).expand({batch, -1, 1});
  const auto phases = torch::matmul(frequencies, positions.to(torch::kFloat32).unsqueeze(1)).transpose(1, 2);
  const auto both = torch::cat({phases, phases}, -1);
  return {both.cos(), both.sin()};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryAngles& angles) {
  const auto half = x.size(-1) / 2;
  const auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  const auto cos = angles.cos.unsqueeze(1).to(x.scalar_type()), sin = angles.sin.unsqueeze(1).to(x.scalar_type());
  return x * cos + rotated * sin;
}

}  // namespace tokenflow::nn
