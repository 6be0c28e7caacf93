#pragma once
// Everything needed to build a TokenFlow network, detected from a checkpoint's tensors.
#include <tokenflow/tokenizer.h>

#include "io/state_dict.h"
#include "nn/vqgan.h"

#include <optional>
#include <string>
#include <vector>

namespace tokenflow::model {

struct Architecture {
  ModelConfig config;  // the public summary (parameter_count is filled in once the net is built)
  // Semantic encoder.
  int semantic_positions = 0;   // rows of the position table
  int semantic_mlp_width = 0;
  bool siglip_has_head = false;
  // Semantic decoder.
  int decoder_positions = 0;
  int decoder_mlp_width = 0;
  // Pixel VQGAN.
  int image_channels = 3;
  std::vector<nn::LevelShape> encoder_levels;  // finest to coarsest
  std::vector<nn::LevelShape> decoder_levels;  // coarsest to finest
  bool enhanced_decoder = false;
  // Optional parts of the official state dict.
  bool has_scaling_layer = false;
  bool tracks_codebook_usage = false;
  // tokenflow's pixel-only baseline stores its quantizer's semantic distance weight (nn/quantizer.h);
  // the value set here is the one a new network starts with, a checkpoint's own is loaded over it.
  std::optional<double> semantic_distance_weight;
};

// Reads the architecture from tensor names and shapes. `source` names the file in errors.
Architecture detect_architecture(const io::StateDict& state, const LoadOptions& options, const std::string& source);

// The official multi-scale schedule for a final grid of `grid` x `grid` tokens.
std::vector<int> scale_schedule(int grid);
// Sets config.scales to scale_schedule(grid) and config.tokens_per_image to match.
void set_scale_schedule(ModelConfig& config, int grid);

}  // namespace tokenflow::model
