#include "nn/attention.h"

#include <tokenflow/error.h>

#include <cmath>

namespace tokenflow::nn {

torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int heads, const torch::Tensor& mask) {
  const auto batch = q.size(0), tokens = q.size(1), dim = q.size(2);
  const auto head_dim = dim / heads;
  auto split = [&](const torch::Tensor& t) { return t.reshape({batch, -1, heads, head_dim}).transpose(1, 2); };
  auto scores = torch::matmul(split(q) * std::pow(static_cast<double>(head_dim), -0.5), split(k).transpose(-2, -1));
  if (mask.defined()) scores = scores + mask;
  auto out = torch::matmul(torch::softmax(scores, -1), split(v));
  return out.transpose(1, 2).reshape({batch, tokens, dim});
}

torch::Tensor interpolate_position_table(const torch::Tensor& table, int grid) {
  const auto count = table.size(0), dim = table.size(1);
  const int n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(count))));
  if (static_cast<int64_t>(n) * n != count) throw Error("position table of " + std::to_string(count) + " rows is not square");
  if (n == grid) return table;
  const double scale = (grid + 0.1) / n;
  auto square = table.reshape({1, n, n, dim}).permute({0, 3, 1, 2});
  auto resized = torch::upsample_bicubic2d(square, {grid, grid}, /*align_corners=*/false, scale, scale);
  return resized.permute({0, 2, 3, 1}).reshape({grid * grid, dim});
}

}  // namespace tokenflow::nn
