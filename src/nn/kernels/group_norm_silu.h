#pragma once
// GroupNorm (optionally followed by SiLU) over channels-last feature maps in one pass for the
// statistics and one for the output, accumulating in float/double whatever the tensor's dtype.
// LibTorch 1.13's own channels-last bfloat16 GroupNorm accumulates in bfloat16 and is wrong for large
// maps (relative error above 1 at 224 x 224 with a non-zero mean), and it has no fused SiLU.
#include <torch/torch.h>

namespace tokenflow::nn {

// x: N x C x H x W, float32 or bfloat16, channels-last. gamma, beta: C. Returns the same layout.
torch::Tensor group_norm_channels_last(const torch::Tensor& x, int groups, const torch::Tensor& gamma,
                                       const torch::Tensor& beta, double eps);
torch::Tensor group_norm_silu_channels_last(const torch::Tensor& x, int groups, const torch::Tensor& gamma,
                                            const torch::Tensor& beta, double eps);

// The layer `norm`, then SiLU, over a float32 map in oneDNN's blocked layout (N x C/16 x H x W x 16,
// nn/onednn_conv.h), by the same passes.
torch::Tensor group_norm_silu_blocked(torch::nn::GroupNorm& norm, const torch::Tensor& x);

// The layer `norm` applied to x, then SiLU: the fused kernel for channels-last bfloat16 CPU tensors,
// else LibTorch's own ops.
torch::Tensor group_norm_silu(torch::nn::GroupNorm& norm, const torch::Tensor& x);
torch::Tensor group_norm(torch::nn::GroupNorm& norm, const torch::Tensor& x);

}  // namespace tokenflow::nn
