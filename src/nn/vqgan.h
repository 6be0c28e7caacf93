#pragma once
// The pixel branch: the VQGAN convolutional encoder and decoder of the official TokenFlow
// (taming-transformers / LlamaGen layout). Parameter names follow the official state dict.
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace tokenflow::nn {

// One resolution level: channels out of the level and the number of residual blocks in it.
struct LevelShape {
  int channels = 0;
  int res_blocks = 0;
  bool attention = false;  // an AttnBlock after every residual block (the lowest resolution)
};

struct ResnetBlock : torch::nn::Module {
  ResnetBlock(int in_channels, int out_channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, nin_shortcut{nullptr};
};

// Single-head self-attention over all positions of a feature map.
struct AttnBlock : torch::nn::Module {
  explicit AttnBlock(int channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d q{nullptr}, k{nullptr}, v{nullptr}, proj_out{nullptr};
};

// mid.0 (residual), mid.1 (attention), mid.2 (residual) at the coarsest resolution.
struct MiddleBlocks {
  void build(torch::nn::Module& parent, int channels);
  torch::Tensor forward(const torch::Tensor& x);

  std::shared_ptr<ResnetBlock> first, second;
  std::shared_ptr<AttnBlock> attention;
};

// A conv_blocks.N entry: residual blocks, optional attention, optional resampling conv.
struct ConvLevel : torch::nn::Module {
  std::vector<std::shared_ptr<ResnetBlock>> res;
  std::vector<std::shared_ptr<AttnBlock>> attn;
  torch::nn::Conv2d resample{nullptr};  // registered as downsample.conv or upsample.conv
};

struct Encoder : torch::nn::Module {
  // levels: from the finest (input resolution) to the coarsest.
  Encoder(int in_channels, int ch, const std::vector<LevelShape>& levels, int z_channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  std::vector<std::shared_ptr<ConvLevel>> levels;
  MiddleBlocks mid;
  torch::nn::GroupNorm norm_out{nullptr};
};

struct Decoder : torch::nn::Module {
  // levels: from the coarsest to the finest, in the order of the state dict's conv_blocks.
  Decoder(int z_channels, const std::vector<LevelShape>& levels, int out_channels);
  torch::Tensor forward(const torch::Tensor& z);
  // forward = upsample(middle(z)). The middle (conv_in and the mid blocks, with their attention
  // over every position) works at the feature grid; the rest is local convolutions and GroupNorm
  // at growing resolutions, which tiled decoding runs a tile at a time.
  torch::Tensor middle(const torch::Tensor& z);
  torch::Tensor upsample(torch::Tensor h);
  int upsampling_factor() const;  // output pixels per feature position along each axis

  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  MiddleBlocks mid;
  std::vector<std::shared_ptr<ConvLevel>> levels;
  torch::nn::GroupNorm norm_out{nullptr};
};

}  // namespace tokenflow::nn
