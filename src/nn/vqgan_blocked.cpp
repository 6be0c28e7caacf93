#include "nn/vqgan_blocked.h"

#include "nn/kernels/group_norm_silu.h"

namespace tokenflow::nn {

namespace {

// Winograd's weights are 6 x 6 per 3 x 3 kernel: 4x the memory, too much for the 512-channel layers
// at the coarsest map for the little time it saves there (docs/performance.md).
constexpr int64_t kWinogradMaxChannels = 256;

BlockedConv2d blocked(const torch::nn::Conv2d& conv, int end_padding = 0) {
  const auto& o = conv->options;
  const bool winograd = winograd_applies(conv) && o.in_channels() <= kWinogradMaxChannels &&
                        o.out_channels() <= kWinogradMaxChannels;
  return BlockedConv2d(conv, winograd ? ConvAlgorithm::Winograd : ConvAlgorithm::Direct, end_padding);
}

torch::Tensor attend(AttnBlock& attention, const torch::Tensor& x) { return to_blocked(attention.forward(from_blocked(x))); }

}  // namespace

BlockedEncoder::BlockedEncoder(Encoder& encoder)
    : encoder_(encoder), conv_in_(blocked(encoder.conv_in)), conv_out_(blocked(encoder.conv_out)) {
  auto block = [](ResnetBlock& res) {
    return Block{&res, blocked(res.conv1), blocked(res.conv2),
                 res.nin_shortcut ? std::optional<BlockedConv2d>(blocked(res.nin_shortcut)) : std::nullopt};
  };
  for (auto& level : encoder.levels) {
    levels_.emplace_back();
    for (auto& res : level->res) levels_.back().push_back(block(*res));
    // The official downsampling pads the right and bottom by one before a 3x3 stride-2 convolution.
    downsample_.push_back(level->resample ? std::optional<BlockedConv2d>(blocked(level->resample, 1)) : std::nullopt);
  }
  middle_.push_back(block(*encoder.mid.first));
  middle_.push_back(block(*encoder.mid.second));
}

torch::Tensor BlockedEncoder::run(const Block& block, const torch::Tensor& x) const {
  auto h = block.conv1.forward(group_norm_silu_blocked(block.module->norm1, x));
  h = block.conv2.forward(group_norm_silu_blocked(block.module->norm2, h));
  return h.add_(block.shortcut ? block.shortcut->forward(x) : x);
}

torch::Tensor BlockedEncoder::forward(const torch::Tensor& images) const {
  auto h = conv_in_.forward(images.to(torch::kFloat32).contiguous());
  for (size_t l = 0; l < levels_.size(); ++l) {
    auto& level = *encoder_.levels[l];
    for (size_t i = 0; i < levels_[l].size(); ++i) {
      h = run(levels_[l][i], h);
      if (!level.attn.empty()) h = attend(*level.attn[i], h);
    }
    if (downsample_[l]) h = downsample_[l]->forward(h);
  }
  h = run(middle_[1], attend(*encoder_.mid.attention, run(middle_[0], h)));
  h = conv_out_.forward(group_norm_silu_blocked(encoder_.norm_out, h));
  return is_blocked(h) ? from_blocked(h) : h;
}

}  // namespace tokenflow::nn
