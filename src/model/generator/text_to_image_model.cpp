#include "model/generator/text_to_image_model.h"

#include <tokenflow/error.h>

#include "nn/linear.h"

namespace tokenflow::generator {

TextToImageModel::TextToImageModel(const TextToImageConfig& config, const nn::TensorTable& weights)
    : config(config), decoder(config.llama, weights.under("model.")) {
  const auto hidden = config.llama.hidden_size;
  lm_head = weights.take("lm_head.weight", {config.llama.vocabulary, hidden});
  const auto model = weights.under("model.");
  for (int64_t i = 0; i < config.projector_layers; ++i) {
    const auto prefix = "mm_projector." + std::to_string(2 * i) + ".";
    const auto in = i == 0 ? config.vision_width : hidden;
    projector_.push_back({model.take(prefix + "weight", {hidden, in}), model.take(prefix + "bias", {hidden})});
  }
  scale_embeddings = model.take_rows("lvl_embed.weight", hidden);
  positions = model.take_rows("pos_1LC", hidden);
}

torch::Tensor TextToImageModel::project(const torch::Tensor& features) const {
  auto x = features;
  for (size_t i = 0; i < projector_.size(); ++i) {
    if (i > 0) x = torch::gelu(x);
    x = nn::linear(x, projector_[i].weight, projector_[i].bias);
  }
  return x;
}

torch::Tensor TextToImageModel::logits(const torch::Tensor& hidden) const {
  return nn::linear(hidden, lm_head, torch::Tensor()).to(torch::kFloat32);
}

}  // namespace tokenflow::generator
