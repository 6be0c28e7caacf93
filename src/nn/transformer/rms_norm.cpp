#include "nn/transformer/rms_norm.h"

namespace tokenflow::nn {

torch::Tensor RMSNorm::operator()(const torch::Tensor& x) const {
  const auto x32 = x.to(torch::kFloat32);
  const auto normalised = x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + eps);
  return weight * normalised.to(x.scalar_type());
}

}  // namespace tokenflow::nn
