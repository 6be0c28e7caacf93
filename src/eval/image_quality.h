#pragma once
// How close a reconstruction is to its input: PSNR and SSIM, per image, as `tokenflow reconstruct`
// and `tokenflow evaluate` report them. Both compare the input as the model saw it (after the centre
// crop) with the reconstruction, B x 3 x H x W in [-1, 1] each.
#include <tokenflow/evaluate.h>

#include <torch/torch.h>

#include <vector>

namespace tokenflow::eval {

// The values a metric compares. eight_bit: the pixels io::save_image writes, clamp to [-1, 1], map
// to [0, 255] and round (what an image file of the input and one of the reconstruction hold); else
// (x + 1) / 2 clamped to [0, 1], for tensors that never were 8-bit images (a .npy input). float32.
torch::Tensor comparable_pixels(const torch::Tensor& images, bool eight_bit);

}  // namespace tokenflow::eval
