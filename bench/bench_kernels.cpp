// Kernel timings (Google Benchmark): the fused channels-last GroupNorm + SiLU against LibTorch's
// GroupNorm followed by SiLU, on the largest map of the enhanced decoder (256 channels, 256 x 256);
// the transformers' linear layers through nn::linear (oneDNN) against at::linear (OpenBLAS), alone
// and in a training step's forward and backward through CLIP ViT-B/16; one layer's attention and the
// softmax inside it.
#include <tokenflow/tokenflow.h>

#include "nn/attention.h"
#include "nn/clip_vision.h"
#include "nn/kernels/group_norm_silu.h"
#include "nn/linear.h"

#include <benchmark/benchmark.h>

namespace {

torch::Tensor decoder_map(torch::ScalarType dtype) {
  torch::manual_seed(0);
  return (torch::randn({1, 256, 256, 256}) * 2 + 1).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
}

void set_threads() {
  tokenflow::set_num_threads(0);
  tokenflow::reuse_freed_memory();
}

// The last argument of the transformer benchmarks: 0 float32, 1 bfloat16.
torch::ScalarType dtype_argument(const benchmark::State& state) {
  return state.range(3) ? torch::kBFloat16 : torch::kFloat32;
}

void BM_FusedGroupNormSilu(benchmark::State& state, torch::ScalarType dtype) {
  set_threads();
  torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(32, 256).eps(1e-6));
  norm->to(dtype);
  auto x = decoder_map(dtype);
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tokenflow::nn::group_norm_silu_channels_last(x, 32, norm->weight, norm->bias, 1e-6));
  }
  state.SetBytesProcessed(state.iterations() * x.nbytes() * 3);  // read twice, write once
}

void BM_LibTorchGroupNormThenSilu(benchmark::State& state, torch::ScalarType dtype) {
  set_threads();
  torch::nn::GroupNorm norm(torch::nn::GroupNormOptions(32, 256).eps(1e-6));
  norm->to(dtype);
  auto x = decoder_map(dtype);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(torch::silu(norm(x)));
  state.SetBytesProcessed(state.iterations() * x.nbytes() * 3);
}

void BM_NearestUpsample2x(benchmark::State& state, torch::ScalarType dtype) {
  set_threads();
  torch::manual_seed(0);
  auto x = torch::randn({1, 256, 128, 128}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(torch::upsample_nearest2d(x, {256, 256}, 2.0, 2.0));
}

// rows x in -> out: CLIP ViT-B/16 at 256x256 (257 tokens, width 768) and SigLIP-SO400M at 384x384
// (729 tokens, width 1152, MLP 4304). Arguments: rows, in, out, dtype (0 float32, 1 bfloat16).
void linear_shapes(benchmark::internal::Benchmark* b) {
  for (int dtype : {0, 1}) {
    for (auto shape : std::vector<std::vector<int64_t>>{
             {257, 768, 2304}, {257, 768, 3072}, {257, 3072, 768}, {729, 1152, 4304}, {729, 4304, 1152}}) {
      b->Args({shape[0], shape[1], shape[2], dtype});
    }
  }
}

template <bool kOneDnn>
void BM_Linear(benchmark::State& state) {
  set_threads();
  torch::manual_seed(0);
  const auto rows = state.range(0), in = state.range(1), out = state.range(2);
  const auto dtype = dtype_argument(state);
  auto x = torch::randn({rows, in}).to(dtype);
  auto weight = (torch::randn({out, in}) / std::sqrt(static_cast<double>(in))).to(dtype);
  auto bias = torch::randn({out}).to(dtype);
  tokenflow::nn::OneDnnGemmScope route(kOneDnn);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(tokenflow::nn::linear(x, weight, bias));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * rows * in * out * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

// One layer's attention: CLIP ViT-B/16 at 256 x 256 (257 tokens, 12 heads of 64) and SigLIP-SO400M
// at 384 x 384 (729 tokens, 16 heads of 72). Arguments: tokens, width, heads, dtype (0 float32,
// 1 bfloat16).
void attention_shapes(benchmark::internal::Benchmark* b) {
  for (int dtype : {0, 1}) {
    for (auto shape : std::vector<std::vector<int64_t>>{{257, 768, 12}, {729, 1152, 16}}) {
      b->Args({shape[0], shape[1], shape[2], dtype});
    }
  }
}

void BM_Attention(benchmark::State& state) {
  set_threads();
  torch::manual_seed(0);
  const auto tokens = state.range(0), width = state.range(1);
  const auto heads = static_cast<int>(state.range(2));
  auto q = torch::randn({1, tokens, width}).to(dtype_argument(state));
  auto k = torch::randn({1, tokens, width}).to(dtype_argument(state));
  auto v = torch::randn({1, tokens, width}).to(dtype_argument(state));
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(tokenflow::nn::multi_head_attention(q, k, v, heads));
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * tokens * tokens * width * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

// The softmax over one layer's score matrices (heads x tokens x tokens), which leave the cache
// between the two products: the most a fused attention kernel, keeping them in cache, could save.
void BM_AttentionSoftmax(benchmark::State& state) {
  set_threads();
  torch::manual_seed(0);
  const auto tokens = state.range(0), heads = state.range(2);
  auto scores = torch::randn({heads, tokens, tokens}).to(dtype_argument(state));
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(torch::softmax(scores, -1));
}

// Forward and backward through CLIP ViT-B/16 in float32, batch 4 at 256 x 256: what training the
// semantic encoder costs, with the oneDNN products or with OpenBLAS's.
template <bool kOneDnn>
void BM_ClipForwardBackward(benchmark::State& state) {
  set_threads();
  torch::manual_seed(0);
  tokenflow::nn::ClipVision vit(768, 12, 12, 16, 197);
  auto images = torch::randn({4, 3, 256, 256});
  tokenflow::nn::OneDnnGemmScope route(kOneDnn);
  for (auto _ : state) {
    vit.zero_grad();
    vit.forward(images).pow(2).mean().backward();
  }
}

BENCHMARK_TEMPLATE(BM_ClipForwardBackward, true)->Iterations(3)->Unit(benchmark::kSecond);
BENCHMARK_TEMPLATE(BM_ClipForwardBackward, false)->Iterations(3)->Unit(benchmark::kSecond);
BENCHMARK_TEMPLATE(BM_Linear, true)->Apply(linear_shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Linear, false)->Apply(linear_shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Attention)->Apply(attention_shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AttentionSoftmax)->Apply(attention_shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FusedGroupNormSilu, fp32, torch::kFloat32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FusedGroupNormSilu, bf16, torch::kBFloat16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LibTorchGroupNormThenSilu, fp32, torch::kFloat32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LibTorchGroupNormThenSilu, bf16, torch::kBFloat16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NearestUpsample2x, fp32, torch::kFloat32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NearestUpsample2x, bf16, torch::kBFloat16)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
