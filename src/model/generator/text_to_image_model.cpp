#include "model/generator/text_to_image_model.h"

#include <tokenflow/error.h>

#include "nn/linear.h"

namespace tokenflow::generator {

TextToImageModel::TextToImageModel(const TextToImageConfig& config, const nn::TensorTable& weights)
    : config(config), decoder(config.llama, weights.under("model.")) {
  const auto hidden = config.llama.hidden_size;
  lm_head = weights.take("lm_head.weight", {config.llama.vocabulary, hidden});
  const auto model = weights.under("model.");
  projector_ = nn::MlpProjector(config.projector_layers, config.vision_width, hidden, model.under("mm_projector."));
  scale_embeddings = model.take_rows("lvl_embed.weight", hidden);
  positions = model.take_rows("pos_1LC", hidden);
}

torch::Tensor TextToImageModel::project(const torch::Tensor& features) const { return projector_(features); }

torch::Tensor TextToImageModel::logits(const torch::Tensor& hidden) const {
  return nn::linear(hidden, lm_head, torch::Tensor()).to(torch::kFloat32);
}

}  // namespace tokenflow::generator
