#include "nn/shared_group_norm.h"

#include <tokenflow/error.h>

namespace tokenflow::nn {

namespace {

thread_local SharedGroupNormStatistics* active_statistics = nullptr;

// Per (sample, group) totals spread back to B x C.
torch::Tensor per_channel_of_group(const torch::Tensor& per_channel, int64_t groups) {
  const auto batch = per_channel.size(0), channels = per_channel.size(1);
  return per_channel.reshape({batch, groups, channels / groups}).sum(2, /*keepdim=*/true).expand(
      {batch, groups, channels / groups}).reshape({batch, channels});
}

}  // namespace

SharedGroupNormStatistics::Scope::Scope(SharedGroupNormStatistics& statistics, Mode mode)
    : previous_(active_statistics) {
  statistics.mode_ = mode;
  statistics.layer_ = 0;
  active_statistics = &statistics;
}

SharedGroupNormStatistics::Scope::~Scope() { active_statistics = previous_; }

SharedGroupNormStatistics* SharedGroupNormStatistics::active() { return active_statistics; }

void SharedGroupNormStatistics::record(const torch::Tensor& x) {
  const size_t index = layer_++;
  if (index == layers_.size()) layers_.emplace_back();
  Layer& layer = layers_.at(index);
  auto values = x.to(torch::kFloat32);
  auto sums = values.sum({2, 3}).to(torch::kFloat64), squares = values.square().sum({2, 3}).to(torch::kFloat64);
  layer.sums = layer.sums.defined() ? layer.sums + sums : sums;
  layer.squares = layer.squares.defined() ? layer.squares + squares : squares;
  layer.count += static_cast<double>(x.size(2) * x.size(3));
}

torch::Tensor SharedGroupNormStatistics::apply(torch::nn::GroupNorm& norm, const torch::Tensor& x, bool silu) {
  const size_t index = layer_++;
  if (index >= layers_.size()) throw Error("tiled decoding: a tile called more GroupNorm layers than were recorded");
  const Layer& layer = layers_[index];
  const auto& o = norm->options;
  const int64_t groups = o.num_groups(), per_group = x.size(1) / groups;
  const double count = layer.count * static_cast<double>(per_group);
  auto mean = per_channel_of_group(layer.sums, groups) / count;
  auto variance = (per_channel_of_group(layer.squares, groups) / count - mean.square()).clamp_min(0);
  auto scale = variance.add(o.eps()).rsqrt() * norm->weight.to(torch::kFloat64);
  auto shift = norm->bias.to(torch::kFloat64) - mean * scale;
  const auto as_map = [&](const torch::Tensor& t) { return t.to(torch::kFloat32).reshape({x.size(0), x.size(1), 1, 1}); };
  auto y = x.to(torch::kFloat32) * as_map(scale) + as_map(shift);
  if (silu) y = torch::silu(y);
  return y.to(x.scalar_type()).contiguous(x.suggest_memory_format());
}

}  // namespace tokenflow::nn
