#include "model/generator/text_to_image_config.h"

#include <tokenflow/error.h>

#include "nn/mlp_projector.h"

namespace tokenflow::generator {

TextToImageConfig TextToImageConfig::read(const std::string& path) {
  const auto file = io::ConfigFile::read(path);
  if (file.text_or("model_type", "") != "llava_llama") {
    file.fail("model_type is not llava_llama (a TokenFlow-t2i LlavaLlamaForCausalLM)");
  }
  for (const auto* key : {"attention_bias", "mlp_bias"}) {
    if (file.flag_or(key, false)) file.fail(std::string(key) + " is not supported");
  }

  TextToImageConfig config;
  config.llama = nn::DecoderConfig::read(file);
  use_t2i_layers(config.llama);
  config.vision_width = file.positive("mm_hidden_size");
  config.context = file.positive("tokenizer_model_max_length");
  config.codebook_size = file.positive("vq_codebook_size");
  config.vision_tower = file.text_or("mm_vision_tower", "");
  config.projector_layers = nn::MlpProjector::layers_in(file);
  return config;
}

void use_t2i_layers(nn::DecoderConfig& config) {
  config.norm_placement = nn::NormPlacement::SublayerOutput;
  config.qk_norm = true;
}

}  // namespace tokenflow::generator
