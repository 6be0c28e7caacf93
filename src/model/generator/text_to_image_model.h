#pragma once
// LlavaLlamaForCausalLM of TokenFlow-t2i, built from its tensors: the decoder (`model.`), `lm_head`,
// and the layers that turn image codes into decoder inputs: `model.mm_projector` (Linear, then GELU
// and Linear for each further layer), `model.lvl_embed` (one row per scale, plus row 0 for text) and
// `model.pos_1LC` (one row per image token).
#include "model/generator/text_to_image_config.h"
#include "nn/transformer/decoder.h"
#include "nn/mlp_projector.h"
#include "nn/weights.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::generator {

class TextToImageModel {
 public:
  // weights: the whole checkpoint (names as in its state_dict). The tensors are taken in `options`'
  // dtype and device. `image_token_start` / `image_token_end`, buffers training leaves in the file,
  // are not read (the tokenizer decides them).
  TextToImageModel(const TextToImageConfig& config, const nn::TensorTable& weights);

  // features: ... x vision_width -> ... x hidden (mm_projector).
  torch::Tensor project(const torch::Tensor& features) const;
  // hidden: ... x hidden -> float32 logits ... x vocabulary.
  torch::Tensor logits(const torch::Tensor& hidden) const;

  int64_t image_tokens() const { return positions.size(0); }
  int64_t scale_count() const { return scale_embeddings.size(0) - 1; }

  TextToImageConfig config;
  nn::TransformerDecoder decoder;
  torch::Tensor lm_head;            // vocabulary x hidden
  torch::Tensor scale_embeddings;   // model.lvl_embed.weight: (scales + 1) x hidden
  torch::Tensor positions;          // model.pos_1LC: image tokens x hidden

 private:
  nn::MlpProjector projector_;
};

}  // namespace tokenflow::generator
