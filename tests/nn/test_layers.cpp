// Building blocks: names mirror the official state dict, shapes, attention, position tables,
// weight loading errors.
#include "nn/attention.h"
#include "nn/clip_vision.h"
#include "nn/kernels/group_norm_silu.h"
#include "nn/linear.h"
#include "nn/semantic_decoder.h"
#include "nn/siglip_vision.h"
#include "nn/vqgan.h"
#include "nn/weights.h"

#include <tokenflow/error.h>

#include <gtest/gtest.h>

#include <limits>

namespace tokenflow::nn {
namespace {

std::vector<std::string> parameter_names(const torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& item : module.named_parameters()) names.push_back(item.key());
  return names;
}

bool has_name(const torch::nn::Module& module, const std::string& name) {
  auto names = parameter_names(module);
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(Vqgan, ParameterNamesMirrorTheOfficialEncoder) {
  Encoder encoder(3, 32, {{32, 2, false}, {64, 2, false}, {64, 2, true}}, 16);
  for (const char* name : {"conv_in.weight", "conv_blocks.0.res.1.conv2.bias", "conv_blocks.0.downsample.conv.weight",
                           "conv_blocks.1.res.0.nin_shortcut.weight", "conv_blocks.2.attn.1.proj_out.weight",
                           "mid.1.q.weight", "mid.2.norm2.bias", "norm_out.weight", "conv_out.bias"}) {
    EXPECT_TRUE(has_name(encoder, name)) << name;
  }
  EXPECT_FALSE(has_name(encoder, "conv_blocks.2.downsample.conv.weight"));
}

TEST(Vqgan, EncoderAndDecoderShapes) {
  Encoder encoder(3, 32, {{32, 1, false}, {64, 1, false}, {64, 1, true}}, 16);
  Decoder decoder(16, {{64, 2, true}, {64, 2, false}, {32, 2, false}}, 3);
  torch::NoGradGuard no_grad;
  auto z = encoder.forward(torch::randn({2, 3, 32, 32}));
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{2, 16, 8, 8}));
  EXPECT_EQ(decoder.forward(z).sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_TRUE(has_name(decoder, "conv_blocks.1.upsample.conv.weight"));
  EXPECT_TRUE(has_name(decoder, "conv_blocks.0.attn.1.q.weight"));
}

TEST(Attention, MatchesANaiveSingleHeadComputationPerHead) {
  torch::manual_seed(1);
  auto q = torch::randn({2, 5, 8}), k = torch::randn({2, 5, 8}), v = torch::randn({2, 5, 8});
  auto out = multi_head_attention(q, k, v, 2);
  for (int h = 0; h < 2; ++h) {
    auto qh = q.slice(2, 4 * h, 4 * h + 4), kh = k.slice(2, 4 * h, 4 * h + 4), vh = v.slice(2, 4 * h, 4 * h + 4);
    auto expected = torch::softmax(torch::bmm(qh, kh.transpose(1, 2)) / 2.0, -1).bmm(vh);
    EXPECT_LT((out.slice(2, 4 * h, 4 * h + 4) - expected).abs().max().item<double>(), 1e-6);
  }
}

TEST(Attention, OneDnnRouteMatchesMatmulWithMaskAndGradients) {
  torch::manual_seed(2);
  // Chunks of one projection, not contiguous, as the CLIP blocks pass them; CLIP's causal mask.
  auto qkv = torch::randn({2, 70, 3 * 48}, torch::requires_grad());
  auto parts = qkv.chunk(3, -1);
  auto mask = torch::full({70, 70}, -std::numeric_limits<float>::infinity()).triu(1);
  auto upstream = torch::randn({2, 70, 48});
  std::vector<torch::Tensor> outputs, gradients;
  for (bool onednn : {true, false}) {
    OneDnnGemmScope route(onednn);
    outputs.push_back(multi_head_attention(parts[0], parts[1], parts[2], 3, mask));
    gradients.push_back(torch::autograd::grad({outputs.back()}, {qkv}, {upstream})[0]);
  }
  EXPECT_LT((outputs[0] - outputs[1]).abs().max().item<float>(), 1e-5);
  EXPECT_LT((gradients[0] - gradients[1]).abs().max().item<float>(), 1e-4);
  // The mask holds: the first query sees only the first key, so its output is that value.
  EXPECT_LT((outputs[0].select(1, 0) - parts[2].select(1, 0)).abs().max().item<float>(), 1e-6);
}

TEST(Linear, OneDnnRouteMatchesAtLinearInValueAndGradient) {
  torch::manual_seed(0);
  // Below the threshold (at::linear) and above it (oneDNN), batched as the transformers call it.
  for (int64_t rows : {kOneDnnMinRows - 1, 3 * kOneDnnMinRows}) {
    auto x = torch::randn({rows / kOneDnnMinRows + 1, rows, 48}, torch::requires_grad());
    auto weight = torch::randn({80, 48}, torch::requires_grad());
    auto bias = torch::randn({80}, torch::requires_grad());
    auto y = linear(x, weight, bias);
    auto expected = torch::nn::functional::linear(x, weight, bias);
    ASSERT_EQ(y.sizes(), expected.sizes());
    EXPECT_LT((y - expected).abs().max().item<float>(), 1e-4) << rows << " rows";
    auto upstream = torch::randn_like(y);
    auto grads = torch::autograd::grad({y}, {x, weight, bias}, {upstream});
    auto expected_grads = torch::autograd::grad({expected}, {x, weight, bias}, {upstream});
    for (size_t i = 0; i < grads.size(); ++i) {
      EXPECT_LT((grads[i] - expected_grads[i]).abs().max().item<float>(), 1e-3) << rows << " rows, gradient " << i;
    }
  }
  auto x = torch::randn({2 * kOneDnnMinRows, 64}).to(torch::kBFloat16);
  auto weight = torch::randn({32, 64}).to(torch::kBFloat16);
  auto y = linear(x, weight, torch::Tensor()).to(torch::kFloat32);
  auto expected = torch::nn::functional::linear(x.to(torch::kFloat32), weight.to(torch::kFloat32));
  EXPECT_LT((y - expected).abs().max().item<float>(), 0.02 * expected.abs().max().item<float>());
}

TEST(PositionTable, SameGridIsUnchangedAndLargerGridHasTheRightSize) {
  auto table = torch::randn({14 * 14, 6});
  EXPECT_TRUE(torch::equal(interpolate_position_table(table, 14), table));
  EXPECT_EQ(interpolate_position_table(table, 16).sizes(), (std::vector<int64_t>{256, 6}));
  EXPECT_THROW(interpolate_position_table(torch::randn({15, 6}), 4), Error);
}

TEST(VisionTransformers, ParameterNamesMirrorTheOfficialLayouts) {
  ClipVision clip(64, 2, 2, 16, 197);
  for (const char* name : {"class_embedding", "positional_embedding", "conv1.weight", "ln_pre.bias",
                           "transformer.resblocks.1.attn.in_proj_weight", "transformer.resblocks.0.attn.out_proj.bias",
                           "transformer.resblocks.1.mlp.c_fc.weight", "ln_post.weight"}) {
    EXPECT_TRUE(has_name(clip, name)) << name;
  }
  SiglipVision siglip(64, 3, 2, 128, 14, 729, true);
  for (const char* name : {"vision_model.embeddings.patch_embedding.bias", "vision_model.embeddings.position_embedding.weight",
                           "vision_model.encoder.layers.2.self_attn.q_proj.weight", "vision_model.post_layernorm.weight",
                           "vision_model.head.probe", "vision_model.head.attention.in_proj_weight",
                           "vision_model.head.mlp.fc2.bias"}) {
    EXPECT_TRUE(has_name(siglip, name)) << name;
  }
  SemanticDecoder decoder(32, 64, 2, 2, 256, 197);
  for (const char* name : {"cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.1.attn.q_bias",
                           "blocks.1.attn.v_bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias", "fc_norm.weight"}) {
    EXPECT_TRUE(has_name(decoder, name)) << name;
  }
  torch::NoGradGuard no_grad;
  EXPECT_EQ(decoder.forward(torch::randn({1, 32, 16, 16})).sizes(), (std::vector<int64_t>{1, 256, 64}));
}

TEST(Weights, LoadCopiesAndReportsMissingOrMisshapenTensors) {
  torch::nn::Linear linear(3, 2);
  io::StateDict state;
  state.insert("layer.weight", torch::ones({2, 3}, torch::kHalf));
  state.insert("layer.bias", torch::full({2}, 7.0));
  load_weights(*linear, state, "w.pt", "layer.");
  EXPECT_EQ(linear->weight.dtype(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(linear->weight, torch::ones({2, 3})));

  state.tensors.erase("layer.bias");
  try {
    load_weights(*linear, state, "w.pt", "layer.");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "w.pt: missing tensor layer.bias");
  }
  state.insert("layer.bias", torch::zeros({3}));
  try {
    load_weights(*linear, state, "w.pt", "layer.");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "w.pt: tensor layer.bias has shape [3] where [2] was expected");
  }
}

TEST(Weights, CollectRoundTripsThroughLoad) {
  torch::nn::Linear a(4, 3), b(4, 3);
  load_weights(*b, collect_weights(*a, "x."), "mem", "x.");
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  EXPECT_TRUE(torch::equal(a->bias, b->bias));
}

}  // namespace
}  // namespace tokenflow::nn

namespace tokenflow::nn {
namespace {

// The fused channels-last kernel against LibTorch's float32 NCHW GroupNorm (+ SiLU), including a
// large map with a non-zero mean, where LibTorch 1.13's own bfloat16 channels-last kernel fails.
TEST(GroupNormSilu, MatchesLibTorchInFloat32AndBfloat16) {
  torch::manual_seed(3);
  torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(32, 64).eps(1e-6));
  torch::NoGradGuard no_grad;
  norm->weight.uniform_(0.5, 1.5);
  norm->bias.uniform_(-0.5, 0.5);
  auto x = torch::randn({2, 64, 96, 80}) * 2 + 3;
  auto expected_norm = norm(x);
  auto expected = torch::silu(expected_norm);
  auto relative = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a.to(torch::kFloat32) - b).norm() / b.norm()).item<double>();
  };
  auto channels_last = x.contiguous(torch::MemoryFormat::ChannelsLast);
  auto fused = group_norm_silu_channels_last(channels_last, 32, norm->weight, norm->bias, 1e-6);
  EXPECT_TRUE(fused.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_LT((fused - expected).abs().max().item<double>(), 1e-5);
  auto normalized = group_norm_channels_last(channels_last, 32, norm->weight, norm->bias, 1e-6);
  EXPECT_LT((normalized - expected_norm).abs().max().item<double>(), 1e-5);
  auto bf16 = group_norm_silu(norm, channels_last.to(torch::kBFloat16));  // the layer takes the kernel
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_LT(relative(bf16, expected), 1e-2);
  // NCHW input takes LibTorch's path unchanged.
  EXPECT_TRUE(torch::equal(group_norm_silu(norm, x), expected));
}

// The bfloat16 kernel element by element: within one rounding of the float32 result computed from
// the same bfloat16 input, for channel counts that fill whole 16-lane vectors and for a tail (40).
TEST(GroupNormSilu, Bfloat16WithinOneRoundingOfFloat32) {
  torch::NoGradGuard no_grad;
  for (int channels : {64, 40}) {
    torch::manual_seed(channels);
    torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(8, channels).eps(1e-6));
    norm->weight.uniform_(0.5, 1.5);
    norm->bias.uniform_(-0.5, 0.5);
    auto x = (torch::randn({1, channels, 33, 17}) * 4 + 2).to(torch::kBFloat16);
    auto input = x.to(torch::kFloat32);
    auto channels_last = x.contiguous(torch::MemoryFormat::ChannelsLast);
    const std::pair<torch::Tensor, torch::Tensor> cases[] = {
        {group_norm_channels_last(channels_last, 8, norm->weight, norm->bias, 1e-6), norm(input)},
        {group_norm_silu_channels_last(channels_last, 8, norm->weight, norm->bias, 1e-6), torch::silu(norm(input))}};
    for (const auto& [got, want] : cases) {
      // A bfloat16 rounding moves a value by at most 2^-8 of it; 2^-7 leaves room for float32 sums.
      auto excess = (got.to(torch::kFloat32) - want).abs() - want.abs() * std::ldexp(1.0, -7) - 1e-6;
      EXPECT_LE(excess.max().item<double>(), 0.0) << channels << " channels";
    }
  }
}

}  // namespace
}  // namespace tokenflow::nn
