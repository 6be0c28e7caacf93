#pragma once
// A TokenFlow LLaVA model folder's config.json (LlavaQwenConfig, model_type "llava_qwen") and
// generation_config.json: every size of the Qwen2 decoder and of the image input comes from them.
#include "nn/transformer/decoder_config.h"

#include <string>
#include <vector>

namespace tokenflow::understanding {

struct LlavaQwenConfig {
  nn::DecoderConfig qwen;        // the Qwen2 variant: pre-norm layers, q/k/v biases
  int64_t vision_width = 0;      // mm_hidden_size: the tower's feature width (semantic + pixel codes)
  int64_t projector_layers = 0;  // mm_projector_type
  int64_t context = 0;           // tokenizer_model_max_length
  std::string vision_tower;      // mm_vision_tower: the TokenFlow tokenizer checkpoint
  bool pad_to_square = false;    // image_aspect_ratio "pad"

  // Throws tokenflow::Error naming the file for a missing or malformed config, another model type, or
  // what this port does not implement (image start/end tokens, another patch merge, RoPE scaling).
  static LlavaQwenConfig read(const std::string& path);
};

// generation_config.json: what transformers' generate() takes from the folder when the caller does
// not say otherwise. Absent keys keep transformers' defaults, except top_k (see below).
struct GenerationDefaults {
  std::vector<int64_t> end_ids;  // eos_token_id, one or a list
  int64_t top_k = 0;             // transformers' default of 50 when sampling unless the file says
  double top_p = 1.0;
  double temperature = 1.0;
  double repetition_penalty = 1.0;

  // An absent file gives the defaults (top_k 50). Throws tokenflow::Error for a malformed one.
  static GenerationDefaults read(const std::string& path);
};

}  // namespace tokenflow::understanding
