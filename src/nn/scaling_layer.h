#pragma once
// The official ScalingLayerForSigLip / ScalingLayerForClip (`scaling_layer.shift`, `.scale`):
// [-1, 1] -> [0, 255] (clamped) -> [0, 1] -> (x - shift) / scale.
#include <torch/torch.h>

#include <array>
#include <memory>

namespace tokenflow::nn {

struct ScalingLayer : torch::nn::Module {
  ScalingLayer();  // SigLIP's: shift = scale = 0.5, so the image ends up in [-1, 1] again
  ScalingLayer(const std::array<double, 3>& shift, const std::array<double, 3>& scale);
  // OpenAI CLIP's mean and standard deviation (ScalingLayerForClip, used for the CLIP teacher).
  static std::shared_ptr<ScalingLayer> clip();
  torch::Tensor forward(const torch::Tensor& images);

  torch::Tensor shift, scale;
};

}  // namespace tokenflow::nn
