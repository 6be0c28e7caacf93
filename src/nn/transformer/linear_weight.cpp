#include "nn/transformer/linear_weight.h"

#include "nn/kernels/int8_matvec.h"
#include "nn/linear.h"

#include <algorithm>

namespace tokenflow::nn {

LinearWeight::LinearWeight(torch::Tensor weight, torch::Tensor bias) : weight_(std::move(weight)), bias_(std::move(bias)) {}

LinearWeight LinearWeight::int8(const torch::Tensor& weight, torch::Tensor bias) {
  constexpr int64_t kBlockElements = int64_t{1} << 24;
  const auto out = weight.size(0), in = weight.size(1);
  const auto block = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(in, 1));
  LinearWeight quantized;
  quantized.weight_ = torch::empty({out, in}, weight.options().dtype(torch::kInt8));
  quantized.scale_ = torch::empty({out}, weight.options().dtype(torch::kFloat32));
  for (int64_t first = 0; first < out; first += block) {
    const auto rows = std::min(block, out - first);
    const auto w = weight.narrow(0, first, rows).to(torch::kFloat32);
    auto scale = w.abs().amax(1) / 127.0;
    scale.masked_fill_(scale == 0, 1.0);
    quantized.weight_.narrow(0, first, rows).copy_((w / scale.unsqueeze(1)).round_().clamp_(-127, 127));
    quantized.scale_.narrow(0, first, rows).copy_(scale);
  }
  quantized.bias_ = bias.defined() ? bias.to(torch::kFloat32).contiguous() : bias;
  return quantized;
}

LinearWeight LinearWeight::in_format(WeightFormat format, torch::Tensor weight, torch::Tensor bias) {
  if (format == WeightFormat::Int8) return int8(weight, std::move(bias));
  return LinearWeight(std::move(weight), std::move(bias));
}

torch::Tensor LinearWeight::dense(torch::ScalarType dtype) const {
  if (!is_int8()) return weight_.to(dtype);
  return (weight_.to(torch::kFloat32) * scale_.unsqueeze(1)).to(dtype);
}

torch::Tensor LinearWeight::rows(const torch::Tensor& ids, torch::ScalarType dtype) const {
  if (!is_int8()) return weight_.index({ids}).to(dtype);
  return (weight_.index({ids}).to(torch::kFloat32) * scale_.index({ids}).unsqueeze(-1)).to(dtype);
}

torch::Tensor LinearWeight::operator()(const torch::Tensor& x) const {
  if (!is_int8()) return linear(x, weight_, bias_);
  const auto in = in_features(), out = out_features();
  const auto rows = x.numel() / in;
  if (rows > kInt8MatvecRows || !x.device().is_cpu()) {
    return linear(x, dense(x.scalar_type()), bias_.defined() ? bias_.to(x.scalar_type()) : bias_);
  }
  const auto input = x.to(torch::kFloat32).contiguous();
  auto sizes = x.sizes().vec();
  sizes.back() = out;
  auto y = torch::empty(sizes, input.options());
  int8_matvec(input.data_ptr<float>(), rows, weight_.data_ptr<int8_t>(), scale_.data_ptr<float>(),
              bias_.defined() ? bias_.data_ptr<float>() : nullptr, out, in, y.data_ptr<float>());
  return y.to(x.scalar_type());
}

int64_t LinearWeight::bytes() const {
  int64_t total = 0;
  for (const auto* t : {&weight_, &scale_, &bias_}) {
    if (t->defined()) total += t->numel() * static_cast<int64_t>(t->element_size());
  }
  return total;
}

LinearWeight LinearWeight::narrow(int64_t start, int64_t length) const {
  LinearWeight part = *this;
  part.weight_ = weight_.narrow(0, start, length);
  if (scale_.defined()) part.scale_ = scale_.narrow(0, start, length);
  if (bias_.defined()) part.bias_ = bias_.narrow(0, start, length);
  return part;
}

}  // namespace tokenflow::nn
