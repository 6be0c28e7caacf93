#include "flops.h"

namespace tokenflow::bench {

namespace {

double conv(double in, double out, double kernel, double resolution) {
  return 2.0 * in * out * kernel * kernel * resolution * resolution;
}

double resnet_block(double in, double out, double resolution) {
  return conv(in, out, 3, resolution) + conv(out, out, 3, resolution) + (in != out ? conv(in, out, 1, resolution) : 0);
}

double attn_block(double channels, double resolution) {
  const double positions = resolution * resolution;
  return 4 * conv(channels, channels, 1, resolution) + 2 * 2 * positions * positions * channels;
}

double mid_blocks(double channels, double resolution) {
  return 2 * resnet_block(channels, channels, resolution) + attn_block(channels, resolution);
}

double level(const nn::LevelShape& shape, double in, double resolution) {
  double flops = 0;
  for (int i = 0; i < shape.res_blocks; ++i) {
    flops += resnet_block(i == 0 ? in : shape.channels, shape.channels, resolution);
    if (shape.attention) flops += attn_block(shape.channels, resolution);
  }
  return flops;
}

double vit(double tokens, double width, double mlp_width, double layers) {
  return layers * (2 * tokens * (4 * width * width + 2 * width * mlp_width) + 4 * tokens * tokens * width);
}

}  // namespace

StageFlops count_flops(const model::Architecture& arch) {
  const auto& c = arch.config;
  StageFlops flops;

  double resolution = c.pixel_image_size, channels = c.encoder_ch;
  flops.pixel_encoder = conv(arch.image_channels, channels, 3, resolution);
  for (size_t i = 0; i < arch.encoder_levels.size(); ++i) {
    flops.pixel_encoder += level(arch.encoder_levels[i], channels, resolution);
    channels = arch.encoder_levels[i].channels;
    if (i + 1 < arch.encoder_levels.size()) {
      resolution /= 2;
      flops.pixel_encoder += conv(channels, channels, 3, resolution);  // stride-2 downsample
    }
  }
  flops.pixel_encoder += mid_blocks(channels, resolution) + conv(channels, c.z_channels, 3, resolution) +
                         conv(c.z_channels, c.pixel_code_dim, 1, resolution);

  const double grid = c.grid();
  channels = arch.decoder_levels.front().channels;
  resolution = grid;
  flops.pixel_decoder = conv(c.pixel_code_dim, c.z_channels, 1, grid) + conv(c.z_channels, channels, 3, grid) +
                        mid_blocks(channels, grid);
  for (size_t i = 0; i < arch.decoder_levels.size(); ++i) {
    flops.pixel_decoder += level(arch.decoder_levels[i], channels, resolution);
    channels = arch.decoder_levels[i].channels;
    if (i + 1 < arch.decoder_levels.size()) {
      resolution *= 2;
      flops.pixel_decoder += conv(channels, channels, 3, resolution);  // upsample conv
    }
  }
  flops.pixel_decoder += conv(channels, arch.image_channels, 3, resolution);

  const double patches = grid * grid;
  const double encoder_tokens = patches + (c.teacher == tokenflow::Teacher::Clip ? 1 : 0);
  flops.semantic_encoder = conv(3, c.semantic_width, c.semantic_patch, grid) +
                           vit(encoder_tokens, c.semantic_width, arch.semantic_mlp_width,
                               c.teacher == tokenflow::Teacher::Clip ? c.semantic_layers : c.semantic_layers - 1) +
                           2 * patches * (c.semantic_width * c.semantic_width + c.semantic_width * c.semantic_code_dim);
  flops.semantic_decoder = conv(c.semantic_code_dim, c.semantic_decoder_width, 1, grid) +
                           vit(patches + 1, c.semantic_decoder_width, arch.decoder_mlp_width, c.semantic_decoder_layers) +
                           2 * patches *
                               (c.semantic_decoder_width * c.semantic_decoder_width +
                                c.semantic_decoder_width * c.semantic_output_dim);
  for (int s : c.scales) flops.quantizer += 2.0 * s * s * c.code_dim() * c.codebook_size;
  return flops;
}

}  // namespace tokenflow::bench
