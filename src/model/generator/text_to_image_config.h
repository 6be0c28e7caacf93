#pragma once
// A TokenFlow-t2i model folder's config.json (LlavaConfig, model_type "llava_llama"): every size of
// the decoder and of the image-input layers comes from it.
#include "nn/transformer/decoder.h"

#include <string>

namespace tokenflow::generator {

struct TextToImageConfig {
  nn::DecoderConfig llama;
  int64_t vision_width = 0;      // mm_hidden_size: the tokenizer's code width (semantic + pixel)
  int64_t projector_layers = 0;  // mm_projector_type mlpNx_gelu: N Linear layers with GELU between
  int64_t context = 0;           // tokenizer_model_max_length: the longest sequence the model was trained on
  int64_t codebook_size = 0;     // vq_codebook_size
  std::string vision_tower;      // mm_vision_tower: the tokenizer checkpoint, relative to the folder or absolute

  // Throws tokenflow::Error naming the file for a missing or malformed config, another model type, or
  // an architecture this decoder does not implement (another activation, RoPE scaling).
  static TextToImageConfig read(const std::string& path);
};

// Sets the decoder variant of TokenFlow-t2i (decoder.h): norms on the sublayers' outputs, QKNorm.
void use_t2i_layers(nn::DecoderConfig& config);

}  // namespace tokenflow::generator
