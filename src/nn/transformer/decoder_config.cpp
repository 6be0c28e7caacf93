#include "nn/transformer/decoder_config.h"

namespace tokenflow::nn {

DecoderConfig DecoderConfig::read(const io::ConfigFile& file) {
  if (file.text_or("hidden_act", "silu") != "silu") file.fail("hidden_act " + file.text_or("hidden_act", "") + " is not silu");
  if (file.has("rope_scaling")) file.fail("rope_scaling is not supported");
  DecoderConfig config;
  config.hidden_size = file.positive("hidden_size");
  config.intermediate_size = file.positive("intermediate_size");
  config.layers = file.positive("num_hidden_layers");
  config.heads = file.positive("num_attention_heads");
  config.key_value_heads = file.positive_or("num_key_value_heads", config.heads);
  config.vocabulary = file.positive("vocab_size");
  config.rms_norm_eps = file.number_or("rms_norm_eps", 1e-6);
  config.rope_theta = file.number_or("rope_theta", 10000.0);
  if (config.hidden_size % config.heads != 0) file.fail("hidden_size is not a multiple of num_attention_heads");
  if (config.heads % config.key_value_heads != 0) file.fail("num_attention_heads is not a multiple of num_key_value_heads");
  if (config.head_dim() % 2 != 0) file.fail("the head size is odd, which RoPE cannot rotate");
  return config;
}

}  // namespace tokenflow::nn
