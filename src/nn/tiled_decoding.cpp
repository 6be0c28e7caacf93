#include "nn/tiled_decoding.h"

#include "nn/shared_group_norm.h"

#include <algorithm>
#include <vector>

namespace tokenflow::nn {

namespace {

// The overlap of neighbouring tiles, in feature positions, for tiles of `tile` positions.
int tile_overlap(int tile) { return std::max(1, tile / 4); }

// Start positions of tiles of `tile` covering `length` with at least `overlap` in common between
// neighbours; the last tile ends at the edge.
std::vector<int64_t> tile_starts(int64_t length, int64_t tile, int64_t overlap) {
  std::vector<int64_t> starts;
  for (int64_t start = 0;; start += tile - overlap) {
    if (start + tile >= length) {
      starts.push_back(std::max<int64_t>(length - tile, 0));
      break;
    }
    starts.push_back(start);
  }
  return starts;
}

// Blending weights along one axis of a tile of `pixels` pixels: rising from near 0 to 1 across the
// first `ramp` pixels when a tile precedes it, falling likewise at the end when one follows. Every
// output pixel gets a positive total weight (the tile interiors are 1).
torch::Tensor axis_weights(int64_t pixels, int64_t ramp, bool rise, bool fall) {
  auto position = torch::arange(pixels, torch::kFloat32) + 0.5;
  auto weights = torch::ones({pixels});
  if (rise) weights = torch::minimum(weights, position / ramp);
  if (fall) weights = torch::minimum(weights, (pixels - position) / ramp);
  return weights;
}

// One axis of a tile: its core [start, start + tile) and the context decoded around it, `overlap`
// positions each side where the map has them (a tile's own edges are padded with zeros by the
// convolutions, so their pixels are decoded but not kept).
struct Span {
  int64_t core, context_begin, context_end;
};

std::vector<Span> spans(int64_t length, int64_t tile, int64_t overlap) {
  std::vector<Span> result;
  for (int64_t start : tile_starts(length, tile, overlap)) {
    result.push_back({start, std::max<int64_t>(start - overlap, 0), std::min(start + tile + overlap, length)});
  }
  return result;
}

}  // namespace

torch::Tensor upsample_in_tiles(Decoder& decoder, const torch::Tensor& h, int tile) {
  TORCH_CHECK(tile >= 2, "upsample_in_tiles: tiles of at least 2 positions");  // LoadOptions checks users' values
  const int64_t height = h.size(2), width = h.size(3);
  if (tile >= height && tile >= width) return decoder.upsample(h).to(torch::kFloat32).contiguous();
  const int64_t factor = decoder.upsampling_factor(), overlap = tile_overlap(tile);
  const auto rows = spans(height, tile, overlap), columns = spans(width, tile, overlap);
  const auto decode_tile = [&](const Span& row, const Span& column) {
    auto part = h.slice(2, row.context_begin, row.context_end).slice(3, column.context_begin, column.context_end);
    return decoder.upsample(part.contiguous(h.suggest_memory_format()));
  };

  SharedGroupNormStatistics statistics;
  {
    SharedGroupNormStatistics::Scope recording(statistics, SharedGroupNormStatistics::Mode::Record);
    for (const auto& row : rows) {
      for (const auto& column : columns) {
        statistics.start_tile();
        decode_tile(row, column);
      }
    }
  }
  SharedGroupNormStatistics::Scope applying(statistics, SharedGroupNormStatistics::Mode::Apply);
  torch::Tensor image, total_weight;
  const int64_t ramp = overlap * factor;
  const int64_t tile_height = std::min<int64_t>(tile, height) * factor, tile_width = std::min<int64_t>(tile, width) * factor;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < columns.size(); ++j) {
      statistics.start_tile();
      const auto& row = rows[i];
      const auto& column = columns[j];
      auto decoded = decode_tile(row, column).to(torch::kFloat32);
      const int64_t y = row.core * factor, x = column.core * factor;
      auto core = decoded.slice(2, y - row.context_begin * factor, y - row.context_begin * factor + tile_height)
                      .slice(3, x - column.context_begin * factor, x - column.context_begin * factor + tile_width);
      if (!image.defined()) {
        image = torch::zeros({h.size(0), decoded.size(1), height * factor, width * factor});
        total_weight = torch::zeros({height * factor, width * factor});
      }
      auto weights = torch::outer(axis_weights(tile_height, ramp, i > 0, i + 1 < rows.size()),
                                  axis_weights(tile_width, ramp, j > 0, j + 1 < columns.size()));
      image.slice(2, y, y + tile_height).slice(3, x, x + tile_width).add_(core * weights);
      total_weight.slice(0, y, y + tile_height).slice(1, x, x + tile_width).add_(weights);
    }
  }
  return image / total_weight;
}

}  // namespace tokenflow::nn
