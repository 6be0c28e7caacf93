#include "nn/mlp_projector.h"

#include "nn/linear.h"

#include <regex>

namespace tokenflow::nn {

MlpProjector::MlpProjector(int64_t layers, int64_t in_features, int64_t hidden, const TensorTable& weights) {
  for (int64_t i = 0; i < layers; ++i) {
    const auto prefix = std::to_string(2 * i) + ".";
    layers_.push_back({weights.take(prefix + "weight", {hidden, i == 0 ? in_features : hidden}), weights.take(prefix + "bias", {hidden})});
  }
}

int64_t MlpProjector::layers_in(const io::ConfigFile& file) {
  const std::string type = file.text_or("mm_projector_type", "linear");
  if (type == "linear") return 1;
  std::smatch match;
  if (!std::regex_match(type, match, std::regex("mlp([1-9][0-9]?)x_gelu"))) {
    file.fail("mm_projector_type " + type + " is not linear or mlpNx_gelu");
  }
  return std::stoll(match[1]);
}

torch::Tensor MlpProjector::operator()(const torch::Tensor& features) const {
  auto x = features;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i > 0) x = torch::gelu(x);
    x = linear(x, layers_[i].weight, layers_[i].bias);
  }
  return x;
}

}  // namespace tokenflow::nn
