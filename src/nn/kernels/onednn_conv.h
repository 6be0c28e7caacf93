#pragma once
// Convolutions run by oneDNN directly, on feature maps in its blocked layout nChw16c, held as
// N x C/16 x H x W x 16 float32 tensors. LibTorch 1.13 reaches oneDNN only through its direct
// convolution; oneDNN's Winograd F(4x4, 3x3) convolution, for float32 3x3 stride-1 layers, needs the
// blocked layout, and is faster than the direct one where oneDNN has kernels for it (AVX-512;
// docs/performance.md has the timings). It differs from the direct sum by float32 rounding.
//
// Available when the build found oneDNN's headers (Debian's libdnnl-dev, the same library
// LibTorch 1.13 calls); otherwise onednn_available() is false and callers keep LibTorch's
// convolutions.
#include <torch/torch.h>

#include <memory>

namespace tokenflow::nn {

bool onednn_available();
// Whether oneDNN runs Winograd convolutions on this CPU: its float32 Winograd kernels need AVX-512
// (not on AVX2-only machines). False without oneDNN.
bool winograd_available();

// N x C x H x W (any memory format; C a multiple of 16) <-> N x C/16 x H x W x 16.
torch::Tensor to_blocked(const torch::Tensor& x);
torch::Tensor from_blocked(const torch::Tensor& blocked);  // contiguous N x C x H x W
bool is_blocked(const torch::Tensor& x);

enum class ConvAlgorithm { Direct, Winograd };

// One float32 inference convolution of `conv`'s weights. Its input and output are blocked when
// their channels are a multiple of 16, else contiguous NCHW (the image in, a narrow map out).
// The weights are read, and reordered for oneDNN, at the first call of an input shape whose
// primitive wants a layout not yet made: build it once the weights are loaded. `end_padding` pads
// the right and bottom only (the official encoder's downsampling pads (0, 1, 0, 1) before a
// convolution without padding).
class BlockedConv2d {
 public:
  BlockedConv2d(const torch::nn::Conv2d& conv, ConvAlgorithm algorithm, int end_padding = 0);
  torch::Tensor forward(const torch::Tensor& x) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Whether `conv` has Winograd's shape: float32 3x3, stride 1, 16k channels in and out.
bool winograd_applies(const torch::nn::Conv2d& conv);

}  // namespace tokenflow::nn
