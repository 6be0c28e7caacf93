#include "nn/linear.h"

#include "nn/products.h"

namespace tokenflow::nn {

namespace {

thread_local bool onednn_allowed = true;

}  // namespace

bool onednn_gemm_allowed() { return onednn_allowed; }

OneDnnGemmScope::OneDnnGemmScope(bool allowed) : previous_(onednn_allowed) { onednn_allowed = allowed; }

OneDnnGemmScope::~OneDnnGemmScope() { onednn_allowed = previous_; }

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto in_features = x.size(-1), out_features = weight.size(0);
  const auto rows = x.numel() / in_features;
  if (bf16_sums_rounded(x)) {
    const auto float_bias = bias.defined() ? bias.to(torch::kFloat32) : bias;
    return linear(x.to(torch::kFloat32), weight.to(torch::kFloat32), float_bias).to(torch::kBFloat16);
  }
  if (!onednn_allowed || !x.is_cpu() || x.scalar_type() != torch::kFloat32 || rows < kOneDnnMinRows) {
    return torch::nn::functional::linear(x, weight, bias);
  }
  auto kernel = weight.reshape({out_features, in_features, 1, 1});
  auto y = torch::conv2d(rows_as_image(x.reshape({rows, in_features})), kernel, bias);
  auto shape = x.sizes().vec();
  shape.back() = out_features;
  return image_as_rows(y).view(shape);
}

torch::Tensor rows_as_image(const torch::Tensor& rows) {
  return rows.view({1, 1, rows.size(0), rows.size(1)}).permute({0, 3, 1, 2});
}

torch::Tensor image_as_rows(const torch::Tensor& image) {
  return image.permute({0, 2, 3, 1}).reshape({image.size(3), image.size(1)});
}

torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& layer) {
  return linear(x, layer->weight, layer->bias);
}

}  // namespace tokenflow::nn
