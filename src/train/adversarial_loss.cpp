#include "train/adversarial_loss.h"

#include <tokenflow/error.h>

namespace tokenflow::train {

namespace {

// The official call order (input, target), kept for parity; see adversarial_loss.h.
torch::Tensor bce_with_constant_input(const torch::Tensor& constant, const torch::Tensor& logits) {
  return torch::binary_cross_entropy_with_logits(constant, logits).mean();
}

}  // namespace

torch::Tensor hinge_d_loss(const torch::Tensor& logits_real, const torch::Tensor& logits_fake) {
  const auto loss_real = torch::relu(1.0 - logits_real).mean();
  const auto loss_fake = torch::relu(1.0 + logits_fake).mean();
  return 0.5 * (loss_real + loss_fake);
}

torch::Tensor vanilla_d_loss(const torch::Tensor& logits_real, const torch::Tensor& logits_fake) {
  const auto loss_real = torch::softplus(-logits_real).mean();
  const auto loss_fake = torch::softplus(logits_fake).mean();
  return 0.5 * (loss_real + loss_fake);
}

torch::Tensor non_saturating_d_loss(const torch::Tensor& logits_real, const torch::Tensor& logits_fake) {
  const auto loss_real = bce_with_constant_input(torch::ones_like(logits_real), logits_real);
  const auto loss_fake = bce_with_constant_input(torch::zeros_like(logits_fake), logits_fake);
  return 0.5 * (loss_real + loss_fake);
}

torch::Tensor hinge_gen_loss(const torch::Tensor& logits_fake) { return -logits_fake.mean(); }

torch::Tensor non_saturating_gen_loss(const torch::Tensor& logits_fake) {
  return bce_with_constant_input(torch::ones_like(logits_fake), logits_fake);
}

torch::Tensor discriminator_adversarial_loss(const std::string& kind, const torch::Tensor& logits_real,
                                             const torch::Tensor& logits_fake) {
  if (kind == "hinge") return hinge_d_loss(logits_real, logits_fake);
  if (kind == "vanilla") return vanilla_d_loss(logits_real, logits_fake);
  if (kind == "non-saturating") return non_saturating_d_loss(logits_real, logits_fake);
  throw Error("unknown discriminator loss '" + kind + "' (expected hinge, vanilla or non-saturating)");
}

torch::Tensor generator_adversarial_loss(const std::string& kind, const torch::Tensor& logits_fake) {
  if (kind == "hinge") return hinge_gen_loss(logits_fake);
  if (kind == "non-saturating") return non_saturating_gen_loss(logits_fake);
  throw Error("unknown generator loss '" + kind + "' (expected hinge or non-saturating)");
}

}  // namespace tokenflow::train
