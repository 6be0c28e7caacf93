#include "model/tokenizer/architecture.h"

#include "io/shape_string.h"
#include "nn/weights.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace tokenflow::model {

namespace {

// Shape lookups that turn a missing tensor into a one-line error naming the file.
class TensorShapes {
 public:
  TensorShapes(const io::StateDict& state, std::string source) : state_(state), source_(std::move(source)) {}

  bool has(const std::string& name) const { return state_.contains(name); }

  int dim(const std::string& name, int axis) const {
    auto found = state_.tensors.find(name);
    if (found == state_.tensors.end()) throw Error(source_ + ": missing tensor " + name);
    const auto& t = found->second;
    const int rank = static_cast<int>(t.dim());
    const int index = axis < 0 ? rank + axis : axis;
    if (index < 0 || index >= rank) {
      throw Error(source_ + ": tensor " + name + " has shape " + io::shape_string(t.sizes()) +
                  ", too few dimensions");
    }
    return static_cast<int>(t.size(index));
  }

  // The number of consecutive indices N for which prefix + N + suffix exists.
  int count(const std::string& prefix, const std::string& suffix) const {
    int n = 0;
    while (has(prefix + std::to_string(n) + suffix)) ++n;
    return n;
  }

  const std::string& source() const { return source_; }

 private:
  const io::StateDict& state_;
  std::string source_;
};

int square_root(int value, const std::string& what, const std::string& source) {
  const int root = static_cast<int>(std::lround(std::sqrt(static_cast<double>(value))));
  if (root * root != value) throw Error(source + ": " + what + " has " + std::to_string(value) + " entries, not a square grid");
  return root;
}

int metadata_int(const io::StateDict& state, const std::string& key) {
  auto found = state.metadata.find(key);
  return found == state.metadata.end() ? 0 : std::stoi(found->second);
}

// Attention heads are not stored in a state dict. The released checkpoints use the official
// counts below; any other width gets 32-dimensional heads (as the parity fixtures do).
int default_heads(const std::string& kind, int width) {
  static const std::map<std::pair<std::string, int>, int> official = {
      {{"clip", 768}, 12}, {{"clip", 1024}, 16}, {{"siglip", 1152}, 16}, {{"siglip", 768}, 12},
      {{"decoder", 768}, 12}, {{"decoder", 1152}, 12}};
  auto found = official.find({kind, width});
  if (found != official.end()) return found->second;
  return std::max(1, width / 32);
}

int resolve_heads(int requested, int from_metadata, const std::string& kind, int width, const std::string& source) {
  const int heads = requested ? requested : from_metadata ? from_metadata : default_heads(kind, width);
  if (heads <= 0 || width % heads != 0) {
    throw Error(source + ": " + std::to_string(heads) + " attention heads do not divide the " + kind + " width " +
                std::to_string(width));
  }
  return heads;
}

std::vector<nn::LevelShape> detect_levels(const TensorShapes& shapes, const std::string& prefix) {
  std::vector<nn::LevelShape> levels;
  const int count = shapes.count(prefix + "conv_blocks.", ".res.0.conv1.weight");
  for (int i = 0; i < count; ++i) {
    const std::string level = prefix + "conv_blocks." + std::to_string(i) + ".";
    nn::LevelShape shape;
    shape.channels = shapes.dim(level + "res.0.conv1.weight", 0);
    shape.res_blocks = shapes.count(level + "res.", ".conv1.weight");
    shape.attention = shapes.has(level + "attn.0.norm.weight");
    levels.push_back(shape);
  }
  if (levels.empty()) throw Error(shapes.source() + ": missing tensor " + prefix + "conv_blocks.0.res.0.conv1.weight");
  return levels;
}

void detect_clip(const TensorShapes& shapes, Architecture& arch) {
  const std::string p = "encoder_vqkd.";
  auto& c = arch.config;
  c.teacher = Teacher::Clip;
  c.semantic_width = shapes.dim(p + "conv1.weight", 0);
  c.semantic_patch = shapes.dim(p + "conv1.weight", -1);
  c.semantic_layers = shapes.count(p + "transformer.resblocks.", ".attn.in_proj_weight");
  arch.semantic_positions = shapes.dim(p + "positional_embedding", 0);
  arch.semantic_mlp_width = shapes.dim(p + "transformer.resblocks.0.mlp.c_fc.weight", 0);
}

void detect_siglip(const TensorShapes& shapes, Architecture& arch) {
  const std::string p = "encoder_vqkd.vision_model.";
  auto& c = arch.config;
  c.teacher = Teacher::Siglip;
  c.semantic_width = shapes.dim(p + "embeddings.patch_embedding.weight", 0);
  c.semantic_patch = shapes.dim(p + "embeddings.patch_embedding.weight", -1);
  c.semantic_layers = shapes.count(p + "encoder.layers.", ".layer_norm1.weight");
  arch.semantic_positions = shapes.dim(p + "embeddings.position_embedding.weight", 0);
  arch.semantic_mlp_width = shapes.dim(p + "encoder.layers.0.mlp.fc1.weight", 0);
  arch.siglip_has_head = shapes.has(p + "head.probe");
}

}  // namespace

std::vector<int> scale_schedule(int grid) {
  // The official schedules: CLIP at 224 (14), CLIP at 256 via infer_interpolate (16), SigLIP at 384 (27).
  if (grid == 14) return {1, 2, 4, 6, 8, 10, 12, 14};
  if (grid == 16) return {1, 2, 4, 6, 8, 10, 12, 14, 16};
  if (grid == 27) return {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 17, 22, 27};
  // Other grids follow the CLIP pattern: 1, then every even size, ending at the grid.
  std::vector<int> scales = {1};
  for (int s = 2; s < grid; s += 2) scales.push_back(s);
  if (grid > 1) scales.push_back(grid);
  return scales;
}

void set_scale_schedule(ModelConfig& config, int grid) {
  config.scales = scale_schedule(grid);
  config.tokens_per_image = 0;
  for (int s : config.scales) config.tokens_per_image += s * s;
}

Architecture detect_architecture(const io::StateDict& state, const LoadOptions& options, const std::string& source) {
  TensorShapes shapes(state, source);
  Architecture arch;
  auto& c = arch.config;

  if (shapes.has("encoder_vqkd.conv1.weight")) {
    detect_clip(shapes, arch);
  } else if (shapes.has("encoder_vqkd.vision_model.embeddings.patch_embedding.weight")) {
    detect_siglip(shapes, arch);
  } else {
    throw Error(source + ": not a TokenFlow checkpoint (no semantic encoder tensors encoder_vqkd.*)");
  }
  if (c.semantic_layers == 0) throw Error(source + ": the semantic encoder has no layers");

  c.codebook_size = shapes.dim("quantize.embedding_vqkd.weight", 0);
  c.semantic_code_dim = shapes.dim("quantize.embedding_vqkd.weight", 1);
  c.pixel_code_dim = shapes.dim("quantize.embedding_vqgan.weight", 1);
  if (shapes.dim("quantize.embedding_vqgan.weight", 0) != c.codebook_size) {
    throw Error(source + ": the semantic and pixel codebooks differ in size");
  }
  arch.tracks_codebook_usage = shapes.has("quantize.codebook_used");
  if (shapes.has("quantize.semantic_distance_weight")) arch.semantic_distance_weight = 1.0;
  arch.has_scaling_layer = shapes.has("scaling_layer.shift");

  c.semantic_decoder_width = shapes.dim("decoder_vqkd.pos_embed", 2);
  c.semantic_decoder_layers = shapes.count("decoder_vqkd.blocks.", ".norm1.weight");
  arch.decoder_positions = shapes.dim("decoder_vqkd.pos_embed", 1);
  arch.decoder_mlp_width = shapes.dim("decoder_vqkd.blocks.0.mlp.fc1.weight", 0);
  c.semantic_output_dim = shapes.dim("decode_task_layer.2.weight", 0);

  arch.encoder_levels = detect_levels(shapes, "encoder.");
  arch.decoder_levels = detect_levels(shapes, "decoder.");
  arch.image_channels = shapes.dim("encoder.conv_in.weight", 1);
  c.encoder_ch = shapes.dim("encoder.conv_in.weight", 0);
  c.decoder_ch = arch.decoder_levels.back().channels;
  c.z_channels = shapes.dim("encoder.conv_out.weight", 0);
  for (const auto& level : arch.encoder_levels) c.encoder_ch_mult.push_back(level.channels / c.encoder_ch);
  for (auto level = arch.decoder_levels.rbegin(); level != arch.decoder_levels.rend(); ++level) {
    c.decoder_ch_mult.push_back(level->channels / c.decoder_ch);
  }
  c.encoder_res_blocks = arch.encoder_levels.front().res_blocks;
  c.decoder_res_blocks = arch.decoder_levels.front().res_blocks - 1;  // the decoder has one more per level
  arch.enhanced_decoder = c.decoder_res_blocks != c.encoder_res_blocks || c.decoder_ch != c.encoder_ch;

  c.semantic_heads = resolve_heads(options.semantic_heads, metadata_int(state, "tokenflow.semantic_heads"),
                                   c.teacher_name(), c.semantic_width, source);
  c.semantic_decoder_heads = resolve_heads(options.semantic_decoder_heads,
                                           metadata_int(state, "tokenflow.semantic_decoder_heads"), "decoder",
                                           c.semantic_decoder_width, source);

  const int downsampling = 1 << (arch.encoder_levels.size() - 1);
  if (c.teacher == Teacher::Clip) {
    const int native_grid = square_root(arch.semantic_positions - 1, "encoder_vqkd.positional_embedding", source);
    // The official enhanced-decoder model runs CLIP-B/16's 14 x 14 position table at 256
    // (`infer_interpolate`): two more patches per side. Models trained here at another size carry a
    // table of their own grid.
    const bool released_interpolation = arch.enhanced_decoder && native_grid == 14;
    const int default_size = (native_grid + (released_interpolation ? 2 : 0)) * c.semantic_patch;
    c.image_size = options.image_size ? options.image_size : default_size;
    if (c.image_size % c.semantic_patch != 0) {
      throw Error("image size " + std::to_string(c.image_size) + " is not a multiple of the patch size " +
                  std::to_string(c.semantic_patch));
    }
    c.pixel_image_size = c.image_size;
  } else {
    const int grid = square_root(arch.semantic_positions, "the SigLIP position table", source);
    // SigLIP-SO400M at 384 sees 27 patches of 14 (6 pixels unused); the pixel branch runs at
    // 16 x 27 = 432 and its output is resized back to the input size.
    c.image_size = options.image_size ? options.image_size
                                      : (grid * c.semantic_patch + downsampling - 1) / downsampling * downsampling;
    if (c.image_size / c.semantic_patch != grid) {
      throw Error("image size " + std::to_string(c.image_size) + " does not give the SigLIP grid of " +
                  std::to_string(grid));
    }
    c.pixel_image_size = grid * downsampling;
  }
  const int grid = c.teacher == Teacher::Clip ? c.image_size / c.semantic_patch : c.pixel_image_size / downsampling;
  if (c.pixel_image_size / downsampling != grid) {
    throw Error("the pixel branch's " + std::to_string(c.pixel_image_size / downsampling) +
                " x grid does not match the semantic grid of " + std::to_string(grid));
  }
  set_scale_schedule(c, grid);
  return arch;
}

}  // namespace tokenflow::model
