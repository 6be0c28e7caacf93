#pragma once
// The sizes and variant of a decoder (decoder.h), as a Hugging Face config.json gives them.
#include "io/config_file.h"

#include <cstdint>

namespace tokenflow::nn {

enum class NormPlacement {
  SublayerInput,   // Llama, Qwen2: h = x + f(norm(x))
  SublayerOutput,  // TokenFlow-t2i: h = x + norm(f(x))
};

struct DecoderConfig {
  int64_t hidden_size = 0, intermediate_size = 0, layers = 0, heads = 0, key_value_heads = 0, vocabulary = 0;
  double rms_norm_eps = 1e-5, qk_norm_eps = 1e-6, rope_theta = 10000;
  NormPlacement norm_placement = NormPlacement::SublayerInput;
  bool qk_norm = false;         // self_attn.qknorm.{query,key}_norm
  bool attention_bias = false;  // self_attn.{q,k,v}_proj.bias
  int64_t head_dim() const { return hidden_size / heads; }

  // The keys every Llama-family config.json has (hidden_size, num_hidden_layers, rope_theta, ...),
  // checked for consistency; the variant fields keep their defaults. Throws tokenflow::Error naming
  // the file for a missing or inconsistent size, another activation or RoPE scaling.
  static DecoderConfig read(const io::ConfigFile& file);
};

}  // namespace tokenflow::nn
