#pragma once
// The pieces behind include/tokenflow/image.h, for the data pipeline and evaluations.
#include <tokenflow/image.h>

#include "io/pil_resize.h"

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tokenflow::io {

// 3 x H x W, as stored (no resizing).
torch::Tensor load_image_raw(const std::string& path);
// The file's pixels as Image.open(path).convert("RGB") gives them. Throws as load_image does.
RgbImage read_rgb_image(const std::string& path);

// Several files read as load_image reads each, decoded in parallel on LibTorch's intra-op threads.
// A file that cannot be read is left out rather than failing the batch: evaluations skip such images.
struct ImageBatch {
  torch::Tensor images;             // n x 3 x size x size, the readable files in order; undefined if none
  std::vector<size_t> readable;     // their positions in `paths`
  std::vector<std::string> errors;  // load_image's message for each file left out, in order
};
ImageBatch load_images(const std::vector<std::string>& paths, int size);

// The pieces of load_image, for the training data pipeline, which reads images from memory (tar
// shards) and crops at random.

// Decodes an encoded image held in memory, as load_image_raw does a file; `name` is only for errors:
// "<name>: cannot read image (<reason>)".
RgbImage decode_image(const uint8_t* data, size_t size, const std::string& name);

// ADM's resizing: while the shorter side is at least 2 * `shorter_side`, halve with Image.BOX; then
// resize with Image.BICUBIC so that the shorter side is `shorter_side` (the aspect ratio kept, sides
// rounded as Python's round()).
RgbImage resize_shorter_side(RgbImage image, int shorter_side);

// The size x size window of `image` whose top-left pixel is (top, left); it must lie inside.
RgbImage crop_square(const RgbImage& image, int top, int left, int size);

// LLaVA's expand2square: the image centred on a square canvas of its longer side filled with `grey`
// (pasted at ((side - width) / 2, (side - height) / 2), rounded down); a square image as it is.
RgbImage expand_to_square(const RgbImage& image, uint8_t grey);

// ADM's center_crop_arr: resize_shorter_side to `size`, then the centre size x size.
RgbImage center_crop_arr(RgbImage image, int size);

// ToTensor then Normalize(0.5, 0.5): 3 x H x W float32 in [-1, 1].
torch::Tensor to_tensor(const RgbImage& image);

}  // namespace tokenflow::io
