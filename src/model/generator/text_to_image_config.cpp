#include "model/generator/text_to_image_config.h"

#include <tokenflow/error.h>

#include "io/files.h"

#include <nlohmann/json.hpp>

#include <regex>

namespace tokenflow::generator {

namespace {

using Json = nlohmann::json;

class ConfigReader {
 public:
  ConfigReader(const Json& json, const std::string& path) : json_(json), path_(path) {}

  int64_t positive(const std::string& key) const {
    const auto found = json_.find(key);
    if (found == json_.end() || !found->is_number_integer() || found->get<int64_t>() <= 0) {
      fail(key + " is missing or not a positive integer");
    }
    return found->get<int64_t>();
  }
  int64_t positive_or(const std::string& key, int64_t fallback) const {
    return json_.contains(key) && !json_[key].is_null() ? positive(key) : fallback;
  }
  double number_or(const std::string& key, double fallback) const {
    const auto found = json_.find(key);
    if (found == json_.end() || found->is_null()) return fallback;
    if (!found->is_number() || found->get<double>() <= 0) fail(key + " is not a positive number");
    return found->get<double>();
  }
  std::string text_or(const std::string& key, const std::string& fallback) const {
    const auto found = json_.find(key);
    if (found == json_.end() || found->is_null()) return fallback;
    if (!found->is_string()) fail(key + " is not a string");
    return found->get<std::string>();
  }
  [[noreturn]] void fail(const std::string& problem) const { throw Error(path_ + ": " + problem); }

 private:
  const Json& json_;
  const std::string& path_;
};

}  // namespace

TextToImageConfig TextToImageConfig::read(const std::string& path) {
  const Json json = Json::parse(io::read_text_file(path), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) throw Error(path + ": not a JSON object");
  const ConfigReader reader(json, path);
  if (reader.text_or("model_type", "") != "llava_llama") {
    reader.fail("model_type is not llava_llama (a TokenFlow-t2i LlavaLlamaForCausalLM)");
  }
  if (reader.text_or("hidden_act", "silu") != "silu") reader.fail("hidden_act " + reader.text_or("hidden_act", "") + " is not silu");
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null()) reader.fail("rope_scaling is not supported");
  for (const auto* key : {"attention_bias", "mlp_bias"}) {
    if (json.contains(key) && json[key].is_boolean() && json[key].get<bool>()) reader.fail(std::string(key) + " is not supported");
  }

  TextToImageConfig config;
  auto& llama = config.llama;
  llama.hidden_size = reader.positive("hidden_size");
  llama.intermediate_size = reader.positive("intermediate_size");
  llama.layers = reader.positive("num_hidden_layers");
  llama.heads = reader.positive("num_attention_heads");
  llama.key_value_heads = reader.positive_or("num_key_value_heads", llama.heads);
  llama.vocabulary = reader.positive("vocab_size");
  llama.rms_norm_eps = reader.number_or("rms_norm_eps", 1e-6);
  llama.rope_theta = reader.number_or("rope_theta", 10000.0);
  if (llama.hidden_size % llama.heads != 0) reader.fail("hidden_size is not a multiple of num_attention_heads");
  if (llama.heads % llama.key_value_heads != 0) reader.fail("num_attention_heads is not a multiple of num_key_value_heads");
  if (llama.head_dim() % 2 != 0) reader.fail("the head size is odd, which RoPE cannot rotate");

  config.vision_width = reader.positive("mm_hidden_size");
  config.context = reader.positive("tokenizer_model_max_length");
  config.codebook_size = reader.positive("vq_codebook_size");
  config.vision_tower = reader.text_or("mm_vision_tower", "");
  const std::string projector = reader.text_or("mm_projector_type", "linear");
  std::smatch match;
  if (projector == "linear") {
    config.projector_layers = 1;
  } else if (std::regex_match(projector, match, std::regex("mlp([1-9][0-9]?)x_gelu"))) {
    config.projector_layers = std::stoll(match[1]);
  } else {
    reader.fail("mm_projector_type " + projector + " is not linear or mlpNx_gelu");
  }
  return config;
}

}  // namespace tokenflow::generator
