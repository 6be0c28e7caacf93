#pragma once
// The image features that feed each scale's positions in TokenFlow-t2i (VQTower.forward in
// t2i/llava_t2i/model/multimodal_encoder/vision_tokenizer.py), one scale at a time: f_hat starts at
// zero; each finished scale adds its codebook entries at its own size, and f_hat is then resized
// (bicubic) to the next scale, so the resizing compounds (1 -> 2 -> 4 -> ...). Scale s >= 1 reads
// f_hat as it stands when scale s begins.
#include <torch/torch.h>

#include <vector>

namespace tokenflow::generator {

class NextScaleFeatures {
 public:
  // codebook: K x C, the tokenizer's normalised entries (semantic then pixel); scales: the sides.
  NextScaleFeatures(torch::Tensor codebook, std::vector<int64_t> scales, int64_t batch);

  int64_t scale() const { return scale_; }  // the scale being generated
  // B x side^2 x C, row-major: f_hat resized to the current scale (zero at scale 0).
  torch::Tensor input() const;
  // The same with the current scale's codes (B x side^2) added and not resized: what the official
  // re-prediction passes (`pred_for_curr_shape`) feed the current scale's positions.
  torch::Tensor with_codes(const torch::Tensor& codes) const;
  // Adds the current scale's final codes and moves to the next scale.
  void finish(const torch::Tensor& codes);

 private:
  torch::Tensor entries(const torch::Tensor& codes) const;  // B x C x side x side
  static torch::Tensor rows(const torch::Tensor& map);       // B x C x h x w -> B x (h w) x C

  torch::Tensor codebook_;
  std::vector<int64_t> scales_;
  int64_t batch_;
  size_t scale_ = 0;
  torch::Tensor f_hat_;  // B x C x side x side; undefined at scale 0
};

}  // namespace tokenflow::generator
