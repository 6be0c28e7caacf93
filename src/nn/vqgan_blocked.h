#pragma once
// The VQGAN pixel encoder run in oneDNN's blocked layout (nn/onednn_conv.h) for float32 inference:
// its 3x3 convolutions of up to 256 channels as Winograd F(4x4, 3x3), the others as oneDNN's direct
// convolution, GroupNorm + SiLU by our kernel, the attention at the coarsest map by the Encoder's
// own AttnBlock. Same weights, same result within float32 rounding and Winograd's (~1e-5).
#include "nn/kernels/onednn_conv.h"
#include "nn/vqgan.h"

#include <optional>
#include <vector>

namespace tokenflow::nn {

class BlockedEncoder {
 public:
  // Reads `encoder`'s weights at the first forward of each input shape; `encoder` must outlive it.
  explicit BlockedEncoder(Encoder& encoder);
  torch::Tensor forward(const torch::Tensor& images) const;  // float32 N x 3 x H x W -> contiguous NCHW

 private:
  struct Block {
    ResnetBlock* module;
    BlockedConv2d conv1, conv2;
    std::optional<BlockedConv2d> shortcut;
  };
  torch::Tensor run(const Block& block, const torch::Tensor& x) const;

  Encoder& encoder_;
  BlockedConv2d conv_in_, conv_out_;
  std::vector<std::vector<Block>> levels_;
  std::vector<std::optional<BlockedConv2d>> downsample_;
  std::vector<Block> middle_;
};

}  // namespace tokenflow::nn
