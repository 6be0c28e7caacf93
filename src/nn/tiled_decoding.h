#pragma once
// Decoding a feature map in tiles, so that the decoder's large maps exist for one tile at a time,
// as stable-diffusion.cpp tiles its VAE.
#include "nn/vqgan.h"

namespace tokenflow::nn {

// decoder.upsample(h) computed tile by tile: tiles of tile x tile positions of h (the middle's
// output), overlapping by a quarter of a tile (at least one position), each decoded with that much
// context around it (then cropped) and blended into the image with weights that ramp linearly
// across the overlaps, so no edge of a tile shows. GroupNorm uses statistics gathered over all tiles
// in a first pass (SharedGroupNormStatistics), so every tile, with its context, is decoded twice;
// the result is close to the whole decoding but not equal to it: a tile's context is not the whole
// map (docs/performance.md gives the measured difference and time). tile >= the grid decodes
// whole. Returns B x C x H x W float32, contiguous.
torch::Tensor upsample_in_tiles(Decoder& decoder, const torch::Tensor& h, int tile);

}  // namespace tokenflow::nn
