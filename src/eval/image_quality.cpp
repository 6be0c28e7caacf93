#include "eval/image_quality.h"

#include <tokenflow/error.h>

#include "io/shape_string.h"
#include "nn/weights.h"

#include <cmath>

namespace tokenflow::eval {

namespace {

constexpr int kSsimRadius = 5;  // skimage: int(truncate 3.5 x sigma 1.5 + 0.5), an 11-tap window
constexpr double kSsimSigma = 1.5;
constexpr double kSsimK1 = 0.01, kSsimK2 = 0.03, kSsimDataRange = 255.0;

void check_pair(const torch::Tensor& reference, const torch::Tensor& reconstruction, const std::string& metric) {
  if (reference.dim() != 4 || reference.sizes() != reconstruction.sizes()) {
    throw Error(metric + ": the images " + io::shape_string(reference.sizes()) + " and the reconstructions " +
                io::shape_string(reconstruction.sizes()) + " must both be B x C x H x W");
  }
}

// The normalised 1-D Gaussian of scipy.ndimage.gaussian_filter1d (float64).
torch::Tensor gaussian_taps() {
  const auto offsets = torch::arange(-kSsimRadius, kSsimRadius + 1, torch::kFloat64);
  const auto taps = torch::exp(-0.5 * (offsets / kSsimSigma).pow(2));
  return taps / taps.sum();
}

// Each plane of `planes` (N x 1 x H x W) filtered by the separable Gaussian, only where the whole
// window fits: N x 1 x (H - 10) x (W - 10). skimage filters with reflected borders and then crops
// exactly those border pixels, so the padding never reaches the mean.
torch::Tensor gaussian_filter_inside(const torch::Tensor& planes) {
  const auto taps = gaussian_taps();
  const auto rows = torch::conv2d(planes, taps.view({1, 1, -1, 1}));
  return torch::conv2d(rows, taps.view({1, 1, 1, -1}));
}

}  // namespace

torch::Tensor comparable_pixels(const torch::Tensor& images, bool eight_bit) {
  const torch::Tensor clamped = images.to(torch::kCPU, torch::kFloat32).clamp(-1, 1);
  return eight_bit ? clamped.add(1).mul(127.5).round() : clamped.add(1).div(2);
}

std::vector<double> psnr_per_image(const torch::Tensor& reference, const torch::Tensor& reconstruction,
                                   bool eight_bit) {
  check_pair(reference, reconstruction, "PSNR");
  const double peak = eight_bit ? 255.0 : 1.0;
  const torch::Tensor error = comparable_pixels(reference, eight_bit) - comparable_pixels(reconstruction, eight_bit);
  const torch::Tensor mse = error.to(torch::kFloat64).pow(2).flatten(1).mean(1);
  std::vector<double> psnr;
  for (int64_t i = 0; i < mse.size(0); ++i) psnr.push_back(10.0 * std::log10(peak * peak / mse[i].item<double>()));
  return psnr;
}

std::vector<double> ssim_per_image(const torch::Tensor& reference, const torch::Tensor& reconstruction) {
  check_pair(reference, reconstruction, "SSIM");
  const int64_t batch = reference.size(0), channels = reference.size(1);
  const int64_t height = reference.size(2), width = reference.size(3);
  const int64_t window = 2 * kSsimRadius + 1;
  if (height < window || width < window) {
    throw Error("SSIM: images of " + std::to_string(height) + " x " + std::to_string(width) +
                " are smaller than the " + std::to_string(window) + " x " + std::to_string(window) + " window");
  }
  const auto x = comparable_pixels(reference, true).to(torch::kFloat64);
  const auto y = comparable_pixels(reconstruction, true).to(torch::kFloat64);
  // One filtering pass over the five maps the statistics need, each channel a plane of its own.
  const auto moments = gaussian_filter_inside(torch::stack({x, y, x * x, y * y, x * y}).view({-1, 1, height, width}))
                           .view({5, batch, channels, height - window + 1, width - window + 1});
  const auto mean_x = moments[0], mean_y = moments[1];
  const auto variance_x = moments[2] - mean_x * mean_x;
  const auto variance_y = moments[3] - mean_y * mean_y;
  const auto covariance = moments[4] - mean_x * mean_y;
  const double c1 = std::pow(kSsimK1 * kSsimDataRange, 2), c2 = std::pow(kSsimK2 * kSsimDataRange, 2);
  const auto ssim_map = (2 * mean_x * mean_y + c1) * (2 * covariance + c2) /
                        ((mean_x * mean_x + mean_y * mean_y + c1) * (variance_x + variance_y + c2));
  // Every channel has as many positions, so the mean over all of them is the mean of the channels' means.
  const auto per_image = ssim_map.flatten(1).mean(1);
  return std::vector<double>(per_image.data_ptr<double>(), per_image.data_ptr<double>() + batch);
}

}  // namespace tokenflow::eval
