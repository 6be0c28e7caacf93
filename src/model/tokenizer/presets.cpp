#include "model/tokenizer/presets.h"

#include <tokenflow/error.h>

namespace tokenflow::model {

namespace {

// The official VQGAN: ch_mult (1, 1, 2, 2, 4), attention at the coarsest level.
std::vector<nn::LevelShape> encoder_levels(int ch, int res_blocks) {
  const int mult[] = {1, 1, 2, 2, 4};
  std::vector<nn::LevelShape> levels;
  for (int i = 0; i < 5; ++i) levels.push_back({ch * mult[i], res_blocks, i == 4});
  return levels;
}

std::vector<nn::LevelShape> decoder_levels(int ch, int res_blocks) {
  auto levels = encoder_levels(ch, res_blocks + 1);
  return {levels.rbegin(), levels.rend()};
}

Architecture common(int semantic_width, int decoder_width, int output_dim) {
  Architecture arch;
  auto& c = arch.config;
  c.codebook_size = 32768;
  c.semantic_code_dim = 32;
  c.pixel_code_dim = 8;
  c.semantic_width = semantic_width;
  c.semantic_decoder_width = decoder_width;
  c.semantic_decoder_layers = 3;
  c.semantic_decoder_heads = 12;
  c.semantic_output_dim = output_dim;
  arch.decoder_mlp_width = 4 * decoder_width;
  c.encoder_ch = 128;
  c.z_channels = 256;
  c.encoder_ch_mult = c.decoder_ch_mult = {1, 1, 2, 2, 4};
  c.encoder_res_blocks = 2;
  arch.encoder_levels = encoder_levels(c.encoder_ch, c.encoder_res_blocks);
  arch.tracks_codebook_usage = true;
  return arch;
}

Architecture clipb256e() {
  Architecture arch = common(768, 768, 512);
  auto& c = arch.config;
  c.teacher = Teacher::Clip;
  c.semantic_layers = 12;
  c.semantic_heads = 12;
  c.semantic_patch = 16;
  arch.semantic_positions = 14 * 14 + 1;
  arch.semantic_mlp_width = 4 * 768;
  arch.decoder_positions = 14 * 14 + 1;
  c.decoder_ch = 256;  // the enhanced decoder
  c.decoder_res_blocks = 4;
  arch.decoder_levels = decoder_levels(c.decoder_ch, c.decoder_res_blocks);
  arch.enhanced_decoder = true;
  c.image_size = c.pixel_image_size = 256;
  set_scale_schedule(c, 16);
  return arch;
}

Architecture siglip384() {
  Architecture arch = common(1152, 1152, 1152);
  auto& c = arch.config;
  c.teacher = Teacher::Siglip;
  c.semantic_layers = 27;
  c.semantic_heads = 16;
  c.semantic_patch = 14;
  arch.semantic_positions = 27 * 27;
  arch.semantic_mlp_width = 4304;
  arch.siglip_has_head = true;
  arch.decoder_positions = 27 * 27 + 1;
  arch.has_scaling_layer = true;
  c.decoder_ch = 128;
  c.decoder_res_blocks = 2;
  arch.decoder_levels = decoder_levels(c.decoder_ch, c.decoder_res_blocks);
  c.image_size = 384;
  c.pixel_image_size = 432;
  set_scale_schedule(c, 27);
  return arch;
}

}  // namespace

std::vector<std::string> released_architecture_names() { return {"clipb256e", "siglip384"}; }

Architecture released_architecture(const std::string& name) {
  if (name == "clipb256e") return clipb256e();
  if (name == "siglip384") return siglip384();
  throw Error("unknown released architecture '" + name + "' (clipb256e or siglip384)");
}

}  // namespace tokenflow::model
