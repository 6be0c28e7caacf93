#pragma once
// The adversarial losses of the official tokenizer/vq_loss.py, on discriminator logits of any shape.
#include <torch/torch.h>

#include <string>

namespace tokenflow::train {

// Discriminator losses: 0.5 * (loss on real logits + loss on fake logits).
torch::Tensor hinge_d_loss(const torch::Tensor& logits_real, const torch::Tensor& logits_fake);
torch::Tensor vanilla_d_loss(const torch::Tensor& logits_real, const torch::Tensor& logits_fake);
torch::Tensor non_saturating_d_loss(const torch::Tensor& logits_real, const torch::Tensor& logits_fake);

// Generator losses on the discriminator's logits for the reconstructions.
// The non-saturating losses, here and above, keep the official call
// binary_cross_entropy_with_logits(ones_like(logits), logits): the constant is the input and the logits
// are the targets, so the loss is linear in the logits (softplus(1) - mean(logits) for the generator).
torch::Tensor hinge_gen_loss(const torch::Tensor& logits_fake);
torch::Tensor non_saturating_gen_loss(const torch::Tensor& logits_fake);

// The losses chosen by name, as the official --disc-loss (hinge | vanilla | non-saturating) and
// --gen-loss (hinge | non-saturating) flags choose them. Throws tokenflow::Error for another name.
torch::Tensor discriminator_adversarial_loss(const std::string& kind, const torch::Tensor& logits_real,
                                             const torch::Tensor& logits_fake);
torch::Tensor generator_adversarial_loss(const std::string& kind, const torch::Tensor& logits_fake);

}  // namespace tokenflow::train
