#include "nn/scaling_layer.h"

namespace tokenflow::nn {

ScalingLayer::ScalingLayer() : ScalingLayer({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}) {}

ScalingLayer::ScalingLayer(const std::array<double, 3>& shift_values, const std::array<double, 3>& scale_values) {
  auto channel_vector = [](const std::array<double, 3>& v) {
    return torch::tensor({v[0], v[1], v[2]}, torch::kFloat32).reshape({1, 3, 1, 1});
  };
  shift = register_buffer("shift", channel_vector(shift_values));
  scale = register_buffer("scale", channel_vector(scale_values));
}

std::shared_ptr<ScalingLayer> ScalingLayer::clip() {
  return std::make_shared<ScalingLayer>(std::array<double, 3>{0.48145466, 0.4578275, 0.40821073},
                                        std::array<double, 3>{0.26862954, 0.26130258, 0.27577711});
}

torch::Tensor ScalingLayer::forward(const torch::Tensor& images) {
  auto x = ((images + 1.0) * 127.5).clamp(0.0, 255.0) / 255.0;
  return (x - shift) / scale;
}

}  // namespace tokenflow::nn
