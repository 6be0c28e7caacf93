#pragma once
// The official understanding model's image path before the tower: mm_utils.process_images with
// image_aspect_ratio "pad" (expand2square on the processor's mean colour, int(0.5 * 255) = 127), then
// SigLipImageProcessor: PIL bicubic to size x size from the 8-bit image, x / 255, (x - 0.5) / 0.5.
#include "io/pil_resize.h"

#include <torch/torch.h>

namespace tokenflow::understanding {

// 1 x 3 x size x size float32 in [-1, 1].
torch::Tensor llava_pixel_values(const io::RgbImage& image, int size, bool pad_to_square);

}  // namespace tokenflow::understanding
