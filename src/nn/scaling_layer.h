#pragma once
// The official ScalingLayerForSigLip / ScalingLayerForClip (`scaling_layer.shift`, `.scale`):
// [-1, 1] -> [0, 255] (clamped) -> [0, 1] -> (x - shift) / scale.
#include <torch/torch.h>

namespace tokenflow::nn {

struct ScalingLayer : torch::nn::Module {
  ScalingLayer();
  torch::Tensor forward(const torch::Tensor& images);

  torch::Tensor shift, scale;
};

}  // namespace tokenflow::nn
