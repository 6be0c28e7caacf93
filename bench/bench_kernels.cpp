// Kernel timings (Google Benchmark): the fused channels-last GroupNorm + SiLU against LibTorch's
// GroupNorm followed by SiLU, on the largest map of the enhanced decoder (256 channels, 256 x 256).
#include <tokenflow/tokenflow.h>

#include "nn/group_norm_silu.h"

#include <benchmark/benchmark.h>

namespace {

torch::Tensor decoder_map(torch::ScalarType dtype) {
  torch::manual_seed(0);
  return (torch::randn({1, 256, 256, 256}) * 2 + 1).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
}

void set_threads() {
  torch::set_num_threads(2);
  tokenflow::reuse_freed_memory();
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

BENCHMARK_CAPTURE(BM_FusedGroupNormSilu, fp32, torch::kFloat32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FusedGroupNormSilu, bf16, torch::kBFloat16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LibTorchGroupNormThenSilu, fp32, torch::kFloat32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LibTorchGroupNormThenSilu, bf16, torch::kBFloat16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NearestUpsample2x, fp32, torch::kFloat32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NearestUpsample2x, bf16, torch::kBFloat16)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
