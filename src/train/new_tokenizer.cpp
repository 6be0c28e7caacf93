#include "train/new_tokenizer.h"

#include <tokenflow/error.h>

#include "nn/attention.h"
#include "nn/clip_vision.h"
#include "nn/siglip_vision.h"
#include "nn/weights.h"
#include "model/teacher/teacher.h"

#include <cmath>

namespace tokenflow::train {

namespace {

std::vector<nn::LevelShape> vqgan_levels(int channels, const std::vector<int>& multipliers, int res_blocks) {
  std::vector<nn::LevelShape> levels;
  for (size_t i = 0; i < multipliers.size(); ++i) {
    levels.push_back({channels * multipliers[i], res_blocks, i + 1 == multipliers.size()});
  }
  return levels;
}

// The decoder mirrors the encoder's levels, coarsest first, with one more res block per level.
void set_decoder(model::Architecture& arch, int channels, int res_blocks) {
  auto& c = arch.config;
  c.decoder_ch = channels;
  c.decoder_res_blocks = res_blocks;
  auto levels = vqgan_levels(channels, c.decoder_ch_mult, res_blocks + 1);
  arch.decoder_levels = {levels.rbegin(), levels.rend()};
  arch.enhanced_decoder = channels != c.encoder_ch || res_blocks != c.encoder_res_blocks;
}

void check_options(const NewTokenizerOptions& o) {
  if (o.codebook_size < 2) throw Error("the codebook needs at least 2 entries");
  if (o.semantic_code_dim < 1 || o.pixel_code_dim < 1) throw Error("code dimensions must be positive");
  if (o.pixel_channels < 1 || o.z_channels < 1 || o.res_blocks < 1 || o.channel_multipliers.empty()) {
    throw Error("the pixel VQGAN needs positive channels, res blocks and channel multipliers");
  }
  for (int m : o.channel_multipliers) {
    if (m < 1) throw Error("channel multipliers must be positive");
  }
  // The VQGAN normalises with GroupNorm(32).
  if (o.pixel_channels % 32 != 0) throw Error("the pixel channels (" + std::to_string(o.pixel_channels) + ") must be a multiple of 32");
}

}  // namespace

void use_enhanced_decoder(model::Architecture& arch) {
  set_decoder(arch, 2 * arch.config.encoder_ch, 2 * arch.config.encoder_res_blocks);
}

NewTokenizer new_tokenizer(const io::StateDict& teacher_state, const std::string& source,
                           const NewTokenizerOptions& options) {
  check_options(options);
  auto teacher = model::make_teacher(teacher_state, source, options.teacher_heads);
  model::Architecture arch;
  auto& c = arch.config;
  const int downsampling = 1 << (options.channel_multipliers.size() - 1);
  c.codebook_size = options.codebook_size;
  c.semantic_code_dim = options.semantic_code_dim;
  c.pixel_code_dim = options.pixel_code_dim;
  c.semantic_output_dim = teacher->feature_width;
  arch.tracks_codebook_usage = true;
  if (options.semantic_distance_weight != 1.0) arch.semantic_distance_weight = options.semantic_distance_weight;

  // The semantic encoder takes the teacher tower's shape.
  const bool clip = teacher->projection.defined();
  const std::string tower = clip ? "visual." : "vision_model.";
  const auto& patch_weight = teacher_state.tensors.at(clip ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight");
  c.teacher = clip ? tokenflow::Teacher::Clip : tokenflow::Teacher::Siglip;
  c.semantic_width = static_cast<int>(patch_weight.size(0));
  c.semantic_patch = static_cast<int>(patch_weight.size(-1));
  if (clip) {
    const auto& blocks = std::static_pointer_cast<nn::ClipVision>(teacher->tower)->blocks;
    c.semantic_layers = static_cast<int>(blocks.size());
    c.semantic_heads = blocks.at(0)->heads;
    arch.semantic_positions = static_cast<int>(teacher_state.tensors.at("visual.positional_embedding").size(0));
    arch.semantic_mlp_width = static_cast<int>(teacher_state.tensors.at("visual.transformer.resblocks.0.mlp.c_fc.weight").size(0));
  } else {
    const auto& layers = std::static_pointer_cast<nn::SiglipVision>(teacher->tower)->layers;
    c.semantic_layers = static_cast<int>(layers.size());
    c.semantic_heads = layers.at(0)->heads;
    arch.semantic_positions = static_cast<int>(teacher_state.tensors.at("vision_model.embeddings.position_embedding.weight").size(0));
    arch.semantic_mlp_width = static_cast<int>(teacher_state.tensors.at("vision_model.encoder.layers.0.mlp.fc1.weight").size(0));
    arch.siglip_has_head = teacher_state.contains("vision_model.head.probe");
    arch.has_scaling_layer = true;
  }

  // Resolution and the token grid.
  if (clip) {
    const int native = static_cast<int>(std::lround(std::sqrt(arch.semantic_positions - 1.0)));
    c.image_size = options.image_size ? options.image_size : native * c.semantic_patch;
    if (c.image_size % c.semantic_patch != 0 || c.image_size % downsampling != 0 ||
        c.image_size / c.semantic_patch != c.image_size / downsampling) {
      throw Error("image size " + std::to_string(c.image_size) + " must give the same grid for the CLIP patches (" +
                  std::to_string(c.semantic_patch) + ") and the pixel encoder (" + std::to_string(downsampling) + ")");
    }
    c.pixel_image_size = c.image_size;
  } else {
    const int grid = static_cast<int>(std::lround(std::sqrt(static_cast<double>(arch.semantic_positions))));
    c.image_size = options.image_size ? options.image_size : grid * c.semantic_patch;
    if (c.image_size / c.semantic_patch != grid) {
      throw Error("image size " + std::to_string(c.image_size) + " does not give the SigLIP grid of " + std::to_string(grid));
    }
    c.pixel_image_size = grid * downsampling;
  }
  const int grid = c.pixel_image_size / downsampling;
  model::set_scale_schedule(c, grid);

  // The semantic decoder: the official VisionTransformer with patch size 1 over the code grid.
  c.semantic_decoder_width = c.semantic_width;
  c.semantic_decoder_layers = options.semantic_decoder_layers;
  c.semantic_decoder_heads = options.semantic_decoder_heads;
  if (c.semantic_decoder_width % c.semantic_decoder_heads != 0) {
    throw Error(std::to_string(c.semantic_decoder_heads) + " semantic decoder heads do not divide its width " +
                std::to_string(c.semantic_decoder_width));
  }
  arch.decoder_positions = grid * grid + 1;
  arch.decoder_mlp_width = 4 * c.semantic_decoder_width;

  // The pixel VQGAN.
  c.encoder_ch = options.pixel_channels;
  c.z_channels = options.z_channels;
  c.encoder_ch_mult = c.decoder_ch_mult = options.channel_multipliers;
  c.encoder_res_blocks = options.res_blocks;
  arch.encoder_levels = vqgan_levels(c.encoder_ch, c.encoder_ch_mult, c.encoder_res_blocks);
  set_decoder(arch, c.encoder_ch, c.encoder_res_blocks);
  if (options.enhanced_decoder) use_enhanced_decoder(arch);

  // A CLIP tower trained at another resolution gets its position table resized to the training
  // grid once, so that the checkpoint itself says at which size it runs.
  io::StateDict initial = teacher_state;
  if (clip && grid * grid + 1 != arch.semantic_positions) {
    const auto& table = teacher_state.tensors.at("visual.positional_embedding");
    initial.tensors["visual.positional_embedding"] =
        torch::cat({table.slice(0, 0, 1), nn::interpolate_position_table(table.slice(0, 1).to(torch::kFloat32), grid)});
    arch.semantic_positions = grid * grid + 1;
  }
  auto net = std::make_shared<model::TokenFlowNet>(arch);
  nn::load_weights(*net->encoder_vqkd, initial, source, clip ? tower : "");
  return {arch, net};
}

}  // namespace tokenflow::train
