#include "model/understanding/llava_qwen_config.h"

#include <tokenflow/error.h>

#include "nn/mlp_projector.h"

#include <filesystem>
#include <nlohmann/json.hpp>

namespace tokenflow::understanding {

LlavaQwenConfig LlavaQwenConfig::read(const std::string& path) {
  const auto file = io::ConfigFile::read(path);
  if (file.text_or("model_type", "") != "llava_qwen") {
    file.fail("model_type is not llava_qwen (a TokenFlow LLaVA LlavaQwenForCausalLM)");
  }
  if (file.flag_or("tie_word_embeddings", false)) file.fail("tie_word_embeddings is not supported");
  if (file.flag_or("mm_use_im_start_end", false)) file.fail("mm_use_im_start_end is not supported");
  if (const auto merge = file.text_or("mm_patch_merge_type", "flat"); merge != "flat") {
    file.fail("mm_patch_merge_type " + merge + " is not flat");
  }
  if (const auto vq = file.text_or("mm_vision_vq_type", "TOKENFLOW"); vq != "TOKENFLOW") {
    file.fail("mm_vision_vq_type " + vq + " is not TOKENFLOW");
  }
  LlavaQwenConfig config;
  config.qwen = nn::DecoderConfig::read(file);
  config.qwen.attention_bias = true;
  config.vision_width = file.positive("mm_hidden_size");
  config.projector_layers = nn::MlpProjector::layers_in(file);
  config.context = file.positive_or("tokenizer_model_max_length", file.positive_or("max_position_embeddings", 32768));
  config.vision_tower = file.text_or("mm_vision_tower", "");
  const auto aspect = file.text_or("image_aspect_ratio", "square");
  if (aspect != "pad" && aspect != "square") file.fail("image_aspect_ratio " + aspect + " is not pad or square");
  config.pad_to_square = aspect == "pad";
  return config;
}

GenerationDefaults GenerationDefaults::read(const std::string& path) {
  GenerationDefaults defaults;
  defaults.top_k = 50;
  if (!std::filesystem::exists(path)) return defaults;
  const auto file = io::ConfigFile::read(path);
  const auto& eos = file.json().find("eos_token_id");
  if (eos != file.json().end() && eos->is_array()) {
    for (const auto& id : *eos) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0) file.fail("eos_token_id holds something other than token ids");
      defaults.end_ids.push_back(id.get<int64_t>());
    }
  } else if (const auto id = file.id_or_none("eos_token_id"); id >= 0) {
    defaults.end_ids.push_back(id);
  }
  if (file.has("top_k")) {
    const auto& top_k = file.json()["top_k"];
    if (!top_k.is_number_integer() || top_k.get<int64_t>() < 0) file.fail("top_k is not a count");
    defaults.top_k = top_k.get<int64_t>();
  }
  defaults.top_p = file.number_or("top_p", 1.0);
  if (defaults.top_p > 1.0) file.fail("top_p is above 1");
  defaults.temperature = file.number_or("temperature", 1.0);
  defaults.repetition_penalty = file.number_or("repetition_penalty", 1.0);
  return defaults;
}

}  // namespace tokenflow::understanding
