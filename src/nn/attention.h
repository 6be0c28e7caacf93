#pragma once
// Pieces shared by the three vision transformers (CLIP, SigLIP, the semantic decoder).
#include <torch/torch.h>

namespace tokenflow::nn {

// Multi-head scaled dot-product attention. q, k, v: B x N x D (D = heads * head_dim) -> B x N x D.
// `mask`, when given, is N x N and added to the attention scores before the softmax, as
// nn.MultiheadAttention's float attn_mask (-inf keeps a query from a key: CLIP's causal text mask).
// On the CPU in float32 it runs through oneDNN (unless a OneDnnGemmScope turns it off, nn/linear.h); elsewhere
// (bfloat16, where LibTorch's batched GEMM is as fast, or CUDA) through at::matmul.
torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int heads, const torch::Tensor& mask = {});

// Resizes a square table of patch position embeddings ((n*n) x D) to grid x grid with bicubic
// interpolation, as the official code does (DINO's `interpolate_pos_encoding`: the scale factor is
// (grid + 0.1) / n, which also sets where the samples fall). Returns (grid*grid) x D.
torch::Tensor interpolate_position_table(const torch::Tensor& table, int grid);

}  // namespace tokenflow::nn
