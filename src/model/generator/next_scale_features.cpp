#include "model/generator/next_scale_features.h"

namespace tokenflow::generator {

NextScaleFeatures::NextScaleFeatures(torch::Tensor codebook, std::vector<int64_t> scales, int64_t batch)
    : codebook_(std::move(codebook)), scales_(std::move(scales)), batch_(batch) {}

torch::Tensor NextScaleFeatures::entries(const torch::Tensor& codes) const {
  const auto side = scales_.at(scale_);
  return codebook_.index_select(0, codes.reshape({-1}).to(codebook_.device()))
      .reshape({batch_, side, side, codebook_.size(1)})
      .permute({0, 3, 1, 2});
}

torch::Tensor NextScaleFeatures::rows(const torch::Tensor& map) { return map.permute({0, 2, 3, 1}).flatten(1, 2); }

torch::Tensor NextScaleFeatures::input() const {
  if (f_hat_.defined()) return rows(f_hat_);
  const auto side = scales_.at(scale_);
  return torch::zeros({batch_, side * side, codebook_.size(1)}, codebook_.options());
}

torch::Tensor NextScaleFeatures::with_codes(const torch::Tensor& codes) const {
  const auto own = entries(codes);
  return rows(f_hat_.defined() ? f_hat_ + own : 0.0 + own);
}

void NextScaleFeatures::finish(const torch::Tensor& codes) {
  const auto own = entries(codes);
  auto sum = f_hat_.defined() ? f_hat_ + own : 0.0 + own;
  ++scale_;
  f_hat_ = scale_ < scales_.size()
               ? torch::upsample_bicubic2d(sum, {scales_[scale_], scales_[scale_]}, /*align_corners=*/false)
               : sum;
}

}  // namespace tokenflow::generator
