#pragma once
// A decoder projection's weight as the model holds it: the checkpoint's tensor, or weight-only int8
// (each output channel's weights over a float32 scale, max |w| / 127), which halves a bfloat16
// model's memory and the bytes each decoded token reads.
#include <torch/torch.h>

namespace tokenflow::nn {

enum class WeightFormat {
  Dense,  // as the table hands the tensors out
  Int8,   // projections and lm_head in int8 per output channel; the rest dense
};

class LinearWeight {
 public:
  LinearWeight() = default;
  // weight: out x in; bias: out, or undefined.
  LinearWeight(torch::Tensor weight, torch::Tensor bias);
  // `weight` quantised: round(w / scale) in [-127, 127], scale = max |w| of its row / 127 (1 for a
  // row of zeros). Quantised a block of rows at a time, so that the float32 temporaries stay small
  // beside the weight (lm_head is 3 GB in float32 at 14B).
  static LinearWeight int8(const torch::Tensor& weight, torch::Tensor bias);
  // WeightFormat::Dense: the weight as it is; Int8: int8(weight).
  static LinearWeight in_format(WeightFormat format, torch::Tensor weight, torch::Tensor bias);

  // x: ... x in -> ... x out, in x's dtype. Int8 with at most kInt8MatvecRows rows reads the int8
  // weights directly (int8_matvec); with more, the weight is expanded to x's dtype once for the
  // whole product, whose arithmetic then dominates.
  torch::Tensor operator()(const torch::Tensor& x) const;

  // The weight as products see it: the dense tensor, or int8 x scale in `dtype`.
  torch::Tensor dense(torch::ScalarType dtype) const;
  // Rows `ids` (any shape) of the weight in `dtype`: ids.sizes() x in. An embedding table's lookup.
  torch::Tensor rows(const torch::Tensor& ids, torch::ScalarType dtype) const;
  bool is_int8() const { return scale_.defined(); }
  int64_t out_features() const { return weight_.size(0); }
  int64_t in_features() const { return weight_.size(1); }
  // The bytes the weight, its scale and its bias take.
  int64_t bytes() const;
  // Rows `start` .. `start + length` of the output channels (a view).
  LinearWeight narrow(int64_t start, int64_t length) const;

  static constexpr int64_t kInt8MatvecRows = 8;

 private:
  torch::Tensor weight_, scale_, bias_;
};

}  // namespace tokenflow::nn
