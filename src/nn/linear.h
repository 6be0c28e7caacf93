#pragma once
// The transformers' linear layers, y = x W^T + b, routed to the faster GEMM on the CPU.
#include <torch/torch.h>

namespace tokenflow::nn {

// x: ... x in_features -> ... x out_features. In float32 on the CPU with at least `kOneDnnMinRows`
// rows it runs as a 1x1 convolution over a channels-last view of x, which LibTorch hands to oneDNN,
// faster than at::linear's OpenBLAS GEMM on the ViTs' shapes (docs/performance.md). The sum runs in
// another order, so results differ by float32 rounding. Elsewhere it is at::linear: with
// fewer rows OpenBLAS wins, bfloat16 already reaches oneDNN through it (and is no slower), and CUDA.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer);

constexpr int64_t kOneDnnMinRows = 64;

// rows x channels as a 1 x channels x 1 x rows image in channels-last memory (a view of contiguous
// rows), and back: how a product over rows is handed to oneDNN as a 1x1 convolution.
torch::Tensor rows_as_image(const torch::Tensor& rows);
torch::Tensor image_as_rows(const torch::Tensor& image);

// Whether linear() and multi_head_attention() may take their oneDNN routes on this thread: true
// unless a OneDnnGemmScope says otherwise. A Model opens one for each call with its LoadOptions'
// onednn_gemm; the benchmark's baseline turns them off to time at::linear and at::matmul, as the
// official code runs. The choice is made on the calling thread, before LibTorch's own threads start.
bool onednn_gemm_allowed();

class OneDnnGemmScope {
 public:
  explicit OneDnnGemmScope(bool allowed);
  ~OneDnnGemmScope();
  OneDnnGemmScope(const OneDnnGemmScope&) = delete;
  OneDnnGemmScope& operator=(const OneDnnGemmScope&) = delete;

 private:
  bool previous_;
};

}  // namespace tokenflow::nn
