#pragma once
// Matrix products whose sums run in float32 for bfloat16 operands on every device, as the official
// code's do on the GPUs it was written for. LibTorch 1.13 sends bfloat16 GEMMs on the CPU to oneDNN
// (float32 sums) only where the CPU has AVX-512 (BW, VL and DQ); elsewhere its fallback GEMM rounds
// the running sum to bfloat16, about 15x the error (docs/performance.md). There these functions
// multiply float32 copies and round the result once.
#include <torch/torch.h>

namespace tokenflow::nn {

// Whether a product of bfloat16 tensors on x's device would round its running sum to bfloat16.
bool bf16_sums_rounded(const torch::Tensor& x);

torch::Tensor matmul(const torch::Tensor& a, const torch::Tensor& b);
torch::Tensor bmm(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace tokenflow::nn
