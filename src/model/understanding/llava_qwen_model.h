#pragma once
// LlavaQwenForCausalLM (i2t/llava/model/language_model/llava_qwen.py), built from its tensors: the
// Qwen2 decoder (`model.`), `lm_head`, and the projector `model.mm_projector` that maps the
// TokenFlow tower's features into the text embeddings.
#include "model/understanding/llava_qwen_config.h"
#include "nn/mlp_projector.h"
#include "nn/transformer/decoder.h"
#include "nn/weights.h"

#include <torch/torch.h>

#include <vector>

namespace tokenflow::understanding {

// tokenizer_image_token's marker for where the image's features go (IMAGE_TOKEN_INDEX).
constexpr int64_t kImageToken = -200;

class LlavaQwenModel {
 public:
  // weights: the whole checkpoint. `vocabulary`: the text tokenizer's length; the official loader
  // resizes embed_tokens and lm_head to it (resize_token_embeddings), so only those rows are used.
  // `format`: how the decoder's projections and lm_head are held.
  LlavaQwenModel(const LlavaQwenConfig& config, int64_t vocabulary, const nn::TensorTable& weights,
                 nn::WeightFormat format = nn::WeightFormat::Dense);

  // features: ... x vision_width -> ... x hidden (mm_projector).
  torch::Tensor project(const torch::Tensor& features) const;
  // prepare_inputs_labels_for_multimodal for one sequence: the embeddings of `ids` with each
  // kImageToken replaced by the rows of `images` (N x tokens x hidden, the projected features, one
  // per marker, in order). Returns 1 x L x hidden. Throws tokenflow::Error for an id outside the
  // vocabulary or a marker count other than N.
  torch::Tensor embed(const std::vector<int64_t>& ids, const torch::Tensor& images) const;
  // hidden: ... x hidden -> float32 logits ... x vocabulary.
  torch::Tensor logits(const torch::Tensor& hidden) const;
  // The dtype and device of the activations.
  const torch::TensorOptions& options() const { return decoder.options(); }

  LlavaQwenConfig config;
  nn::TransformerDecoder decoder;
  nn::LinearWeight lm_head;  // vocabulary x hidden

 private:
  nn::MlpProjector projector_;
};

}  // namespace tokenflow::understanding
