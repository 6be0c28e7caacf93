#include "nn/scaling_layer.h"

namespace tokenflow::nn {

ScalingLayer::ScalingLayer() {
  shift = register_buffer("shift", torch::full({1, 3, 1, 1}, 0.5));
  scale = register_buffer("scale", torch::full({1, 3, 1, 1}, 0.5));
}

torch::Tensor ScalingLayer::forward(const torch::Tensor& images) {
  auto x = ((images + 1.0) * 127.5).clamp(0.0, 255.0) / 255.0;
  return (x - shift) / scale;
}

}  // namespace tokenflow::nn
