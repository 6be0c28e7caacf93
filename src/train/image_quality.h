#pragma once
// How close a reconstruction is to its input: PSNR and SSIM, per image, as `tokenflow reconstruct`
// and `tokenflow evaluate` report them. Both compare the input as the model saw it (after the centre
// crop) with the reconstruction, B x 3 x H x W in [-1, 1] each.
#include <torch/torch.h>

#include <vector>

namespace tokenflow::train {

// The values a metric compares. eight_bit: the pixels io::save_image writes, clamp to [-1, 1], map
// to [0, 255] and round (what an image file of the input and one of the reconstruction hold); else
// (x + 1) / 2 clamped to [0, 1], for tensors that never were 8-bit images (a .npy input). float32.
torch::Tensor comparable_pixels(const torch::Tensor& images, bool eight_bit);

// 10 log10(peak^2 / MSE) over all pixels and channels of each image, on comparable_pixels; peak 255
// for eight_bit, else 1. Infinite for identical images.
std::vector<double> psnr_per_image(const torch::Tensor& reference, const torch::Tensor& reconstruction,
                                   bool eight_bit);

// The SSIM of Wang et al. (2004) per image, on the 8-bit pixels (comparable_pixels, eight_bit), as
// skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
// data_range=255, channel_axis=-1) computes it: local means, variances and covariance under an 11 x 11
// Gaussian window (sigma 1.5, normalised to sum 1; population statistics), C1 = (0.01 x 255)^2,
// C2 = (0.03 x 255)^2, the SSIM map averaged over the positions whose window lies inside the image
// (skimage's crop of 5 pixels at each border), then over the three channels. In float64. Throws
// tokenflow::Error for mismatched shapes or images smaller than 11 x 11.
std::vector<double> ssim_per_image(const torch::Tensor& reference, const torch::Tensor& reconstruction);

}  // namespace tokenflow::train
