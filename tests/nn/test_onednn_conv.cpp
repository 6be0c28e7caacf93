// oneDNN's blocked layout: its convolutions (Winograd and direct), GroupNorm + SiLU over it, and the
// pixel encoder run through them, each against LibTorch's NCHW computation of the same weights.
#include "nn/kernels/group_norm_silu.h"
#include "nn/kernels/onednn_conv.h"
#include "nn/vqgan.h"
#include "nn/vqgan_blocked.h"

#include <gtest/gtest.h>

#include <thread>

namespace tokenflow::nn {
namespace {

double max_relative(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got - want).abs().max() / want.abs().max()).item<double>();
}

torch::nn::Conv2d conv(int in, int out, int kernel, int stride, int padding) {
  torch::nn::Conv2d layer(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
  torch::NoGradGuard no_grad;
  layer->bias.uniform_(-1, 1);
  return layer;
}

TEST(BlockedLayout, RoundTripsAndPutsSixteenChannelsLast) {
  auto x = torch::randn({2, 32, 5, 7});
  auto blocked = to_blocked(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_EQ(blocked.sizes(), (std::vector<int64_t>{2, 2, 5, 7, 16}));
  EXPECT_TRUE(is_blocked(blocked));
  EXPECT_EQ(blocked[1][1][4][6][3].item<float>(), x[1][16 + 3][4][6].item<float>());
  EXPECT_TRUE(torch::equal(from_blocked(blocked), x));
}

TEST(BlockedConv2d, WinogradAndDirectMatchLibTorch) {
  if (!winograd_available()) GTEST_SKIP() << "no Winograd convolutions here (oneDNN missing, or a CPU without AVX-512)";
  torch::manual_seed(5);
  torch::NoGradGuard no_grad;
  auto image = torch::randn({2, 3, 24, 20});
  auto map = torch::randn({2, 32, 24, 20});
  struct Case {
    const char* name;
    torch::nn::Conv2d layer;
    ConvAlgorithm algorithm;
    int end_padding;
    torch::Tensor input;
    double tolerance;
  };
  // Winograd's transforms round more than a direct sum: ~1e-6 of the output's range per layer.
  Case cases[] = {
      {"3x3 Winograd", conv(32, 48, 3, 1, 1), ConvAlgorithm::Winograd, 0, map, 2e-5},
      {"3x3 direct", conv(32, 48, 3, 1, 1), ConvAlgorithm::Direct, 0, map, 1e-6},
      {"image in (3 channels, plain NCHW)", conv(3, 32, 3, 1, 1), ConvAlgorithm::Direct, 0, image, 1e-6},
      {"stride 2, right and bottom padding", conv(32, 32, 3, 2, 0), ConvAlgorithm::Direct, 1, map, 1e-6},
      {"1x1 to 8 channels (plain NCHW out)", conv(32, 8, 1, 1, 0), ConvAlgorithm::Direct, 0, map, 1e-6},
  };
  for (auto c : cases) {
    auto padded = c.end_padding ? torch::constant_pad_nd(c.input, {0, c.end_padding, 0, c.end_padding}, 0) : c.input;
    const auto want = c.layer->forward(padded);
    const BlockedConv2d blocked(c.layer, c.algorithm, c.end_padding);
    const auto in = c.input.size(1) % 16 == 0 ? to_blocked(c.input) : c.input;
    const auto out = blocked.forward(in);
    const auto got = is_blocked(out) ? from_blocked(out) : out;
    ASSERT_EQ(got.sizes(), want.sizes()) << c.name;
    EXPECT_LT(max_relative(got, want), c.tolerance) << c.name;
    EXPECT_TRUE(torch::equal(blocked.forward(in), out)) << c.name << ": the prepared primitive reused";
    // Another batch size: a primitive of its own over the weights already reordered.
    const auto one = blocked.forward(in.slice(0, 1, 2));
    EXPECT_LT(max_relative(is_blocked(one) ? from_blocked(one) : one, want.slice(0, 1, 2)), c.tolerance) << c.name;
  }
}

// Each call brings its own scratchpad, so threads may share one convolution.
TEST(BlockedConv2d, ThreadsShareOneConvolution) {
  if (!winograd_available()) GTEST_SKIP() << "no Winograd convolutions here (oneDNN missing, or a CPU without AVX-512)";
  torch::manual_seed(7);
  torch::NoGradGuard no_grad;
  const BlockedConv2d blocked(conv(32, 32, 3, 1, 1), ConvAlgorithm::Winograd);
  const auto input = to_blocked(torch::randn({1, 32, 48, 48}));
  const auto want = blocked.forward(input);
  std::vector<torch::Tensor> got(4);
  std::vector<std::thread> threads;
  for (auto& out : got) {
    threads.emplace_back([&] {
      torch::NoGradGuard thread_no_grad;
      for (int i = 0; i < 5; ++i) out = blocked.forward(input);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& out : got) EXPECT_TRUE(torch::equal(out, want));
}

TEST(GroupNormSilu, BlockedMatchesLibTorch) {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  // 4 channels per group (inside a 16-channel block) and 32 (across two blocks).
  for (auto [groups, channels] : {std::pair{32, 128}, std::pair{2, 64}}) {
    torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(groups, channels).eps(1e-6));
    norm->weight.uniform_(0.5, 1.5);
    norm->bias.uniform_(-0.5, 0.5);
    auto x = torch::randn({2, channels, 19, 23}) * 2 + 3;
    auto got = from_blocked(group_norm_silu_blocked(norm, to_blocked(x)));
    EXPECT_LT((got - torch::silu(norm(x))).abs().max().item<double>(), 1e-5) << groups << " groups";
  }
}

TEST(BlockedEncoder, MatchesTheEncoder) {
  if (!winograd_available()) GTEST_SKIP() << "no Winograd convolutions here (oneDNN missing, or a CPU without AVX-512)";
  torch::manual_seed(6);
  torch::NoGradGuard no_grad;
  // Levels with a channel change (a 1x1 shortcut), downsampling, attention at the coarsest level.
  Encoder encoder(3, 32, {{32, 1, false}, {64, 2, false}, {64, 1, true}}, 16);
  auto images = torch::rand({2, 3, 32, 32}) * 2 - 1;
  const auto want = encoder.forward(images);
  const BlockedEncoder blocked(encoder);
  const auto got = blocked.forward(images);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(got.is_contiguous());
  EXPECT_LT(max_relative(got, want), 1e-4);
}

}  // namespace
}  // namespace tokenflow::nn
