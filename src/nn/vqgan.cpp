#include "nn/vqgan.h"

#include "nn/kernels/group_norm_silu.h"
#include "nn/products.h"

#include <string>

namespace tokenflow::nn {

namespace {

torch::nn::GroupNorm group_norm(int channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(32, channels).eps(1e-6));
}

torch::nn::Conv2d conv(int in, int out, int kernel, int stride = 1, int padding = 0) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

// Builds conv_blocks.N with the official child names (res.M, attn.M).
std::shared_ptr<ConvLevel> make_level(int in_channels, const LevelShape& shape) {
  auto level = std::make_shared<ConvLevel>();
  auto res = level->register_module("res", torch::nn::ModuleList());
  auto attn = level->register_module("attn", torch::nn::ModuleList());
  int channels = in_channels;
  for (int i = 0; i < shape.res_blocks; ++i) {
    level->res.push_back(std::make_shared<ResnetBlock>(channels, shape.channels));
    res->push_back(level->res.back());
    channels = shape.channels;
    if (shape.attention) {
      level->attn.push_back(std::make_shared<AttnBlock>(channels));
      attn->push_back(level->attn.back());
    }
  }
  return level;
}

// Adds `name`.conv (downsample or upsample) to a level.
void add_resample(ConvLevel& level, const std::string& name, int channels, int stride, int padding) {
  auto holder = level.register_module(name, std::make_shared<torch::nn::Module>());
  level.resample = holder->register_module("conv", conv(channels, channels, 3, stride, padding));
}

torch::Tensor run_level(ConvLevel& level, torch::Tensor h) {
  for (size_t i = 0; i < level.res.size(); ++i) {
    h = level.res[i]->forward(h);
    if (!level.attn.empty()) h = level.attn[i]->forward(h);
  }
  return h;
}

}  // namespace

ResnetBlock::ResnetBlock(int in_channels, int out_channels) {
  norm1 = register_module("norm1", group_norm(in_channels));
  conv1 = register_module("conv1", conv(in_channels, out_channels, 3, 1, 1));
  norm2 = register_module("norm2", group_norm(out_channels));
  conv2 = register_module("conv2", conv(out_channels, out_channels, 3, 1, 1));
  if (in_channels != out_channels) nin_shortcut = register_module("nin_shortcut", conv(in_channels, out_channels, 1));
}

torch::Tensor ResnetBlock::forward(const torch::Tensor& x) {
  auto h = conv1(group_norm_silu(norm1, x));
  h = conv2(group_norm_silu(norm2, h));
  return (nin_shortcut ? nin_shortcut(x) : x) + h;
}

AttnBlock::AttnBlock(int channels) {
  norm = register_module("norm", group_norm(channels));
  q = register_module("q", conv(channels, channels, 1));
  k = register_module("k", conv(channels, channels, 1));
  v = register_module("v", conv(channels, channels, 1));
  proj_out = register_module("proj_out", conv(channels, channels, 1));
}

torch::Tensor AttnBlock::forward(const torch::Tensor& x) {
  auto h = group_norm(norm, x);
  const auto b = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  auto queries = q(h).reshape({b, c, height * width}).permute({0, 2, 1});  // b, hw, c
  auto keys = k(h).reshape({b, c, height * width});                        // b, c, hw
  auto weights = nn::bmm(queries, keys) * std::pow(static_cast<double>(c), -0.5);
  weights = torch::softmax(weights, 2);
  auto values = v(h).reshape({b, c, height * width});
  auto out = nn::bmm(values, weights.permute({0, 2, 1})).reshape({b, c, height, width});
  return x + proj_out(out);
}

void MiddleBlocks::build(torch::nn::Module& parent, int channels) {
  auto list = parent.register_module("mid", torch::nn::ModuleList());
  first = std::make_shared<ResnetBlock>(channels, channels);
  attention = std::make_shared<AttnBlock>(channels);
  second = std::make_shared<ResnetBlock>(channels, channels);
  list->push_back(first);
  list->push_back(attention);
  list->push_back(second);
}

torch::Tensor MiddleBlocks::forward(const torch::Tensor& x) {
  return second->forward(attention->forward(first->forward(x)));
}

Encoder::Encoder(int in_channels, int ch, const std::vector<LevelShape>& shapes, int z_channels) {
  conv_in = register_module("conv_in", conv(in_channels, ch, 3, 1, 1));
  auto blocks = register_module("conv_blocks", torch::nn::ModuleList());
  int channels = ch;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const bool last = i + 1 == shapes.size();
    levels.push_back(make_level(channels, shapes[i]));
    channels = shapes[i].channels;
    if (!last) add_resample(*levels.back(), "downsample", channels, /*stride=*/2, /*padding=*/0);
    blocks->push_back(levels.back());
  }
  mid.build(*this, channels);
  norm_out = register_module("norm_out", group_norm(channels));
  conv_out = register_module("conv_out", conv(channels, z_channels, 3, 1, 1));
}

torch::Tensor Encoder::forward(const torch::Tensor& x) {
  auto h = conv_in(x);
  for (auto& level : levels) {
    h = run_level(*level, h);
    // No asymmetric padding in torch's conv: pad right and bottom by one, then stride 2.
    if (level->resample) h = level->resample(torch::constant_pad_nd(h, {0, 1, 0, 1}, 0));
  }
  h = mid.forward(h);
  return conv_out(group_norm_silu(norm_out, h));
}

Decoder::Decoder(int z_channels, const std::vector<LevelShape>& shapes, int out_channels) {
  int channels = shapes.front().channels;
  conv_in = register_module("conv_in", conv(z_channels, channels, 3, 1, 1));
  mid.build(*this, channels);
  auto blocks = register_module("conv_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const bool last = i + 1 == shapes.size();
    levels.push_back(make_level(channels, shapes[i]));
    channels = shapes[i].channels;
    if (!last) add_resample(*levels.back(), "upsample", channels, /*stride=*/1, /*padding=*/1);
    blocks->push_back(levels.back());
  }
  norm_out = register_module("norm_out", group_norm(channels));
  conv_out = register_module("conv_out", conv(channels, out_channels, 3, 1, 1));
}

torch::Tensor Decoder::forward(const torch::Tensor& z) { return upsample(middle(z)); }

torch::Tensor Decoder::middle(const torch::Tensor& z) { return mid.forward(conv_in(z)); }

int Decoder::upsampling_factor() const {
  int factor = 1;
  for (const auto& level : levels) factor *= level->resample ? 2 : 1;
  return factor;
}

torch::Tensor Decoder::upsample(torch::Tensor h) {
  for (auto& level : levels) {
    h = run_level(*level, h);
    if (level->resample) {
      h = torch::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2}, 2.0, 2.0);
      h = level->resample(h);
    }
  }
  return conv_out(group_norm_silu(norm_out, h));
}

}  // namespace tokenflow::nn
