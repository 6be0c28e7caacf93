#include "train/training_forward.h"

namespace tokenflow::train {

namespace {

torch::Tensor bicubic_resize(const torch::Tensor& x, int size) {
  return torch::upsample_bicubic2d(x, {size, size}, /*align_corners=*/false);
}

}  // namespace

TrainingForward forward_training(model::TokenFlowNet& net, const torch::Tensor& images, const std::vector<int>& scales,
                                 const QuantizerSettings& settings) {
  const int grid = net.config.grid();
  auto residual = torch::cat({net.semantic_features(images), net.pixel_features(images)}, 1);
  torch::Tensor total;
  std::vector<torch::Tensor> indices;
  QuantizerLosses losses;
  for (int scale : scales) {
    auto quantized = net.quantize->forward_training(torch::adaptive_avg_pool2d(residual, {scale, scale}),
                                                    settings.commit_beta, settings.entropy_ratio);
    auto upsampled = bicubic_resize(quantized.features, grid);
    total = total.defined() ? total + upsampled : upsampled;
    // Each scale quantises what the coarser ones left, but the gradient does not flow back through
    // that subtraction.
    residual = residual - upsampled.detach();
    losses.vq = losses.vq.defined() ? losses.vq + quantized.vq_loss : quantized.vq_loss;
    losses.commit = losses.commit.defined() ? losses.commit + quantized.commit_loss : quantized.commit_loss;
    losses.entropy = losses.entropy.defined() ? losses.entropy + quantized.entropy_loss : quantized.entropy_loss;
    losses.codebook_usage += net.quantize->record_usage(quantized.indices);
    indices.push_back(quantized.indices);
  }
  const double count = static_cast<double>(scales.size());
  losses.vq = losses.vq / count;
  losses.commit = losses.commit / count;
  losses.entropy = losses.entropy / count;
  losses.codebook_usage /= count;
  return {net.decode_pixels(total), net.decode_semantic(total), torch::cat(indices, 1), losses};
}

std::vector<int> drop_random_scale(const std::vector<int>& scales, double probability, std::mt19937_64& rng) {
  if (scales.size() < 2 || std::uniform_real_distribution<double>(0.0, 1.0)(rng) >= probability) return scales;
  const auto dropped = std::uniform_int_distribution<size_t>(1, scales.size() - 1)(rng);
  std::vector<int> kept;
  for (size_t i = 0; i < scales.size(); ++i) {
    if (i != dropped) kept.push_back(scales[i]);
  }
  return kept;
}

}  // namespace tokenflow::train
