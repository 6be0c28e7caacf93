#pragma once
// The weights and switches of the official VQLoss and quantizer (vq_loss.py, vq_train.py flags).
#include <cstdint>
#include <string>

namespace tokenflow::train {

struct LossSettings {
  double commit_beta = 0.25;           // --commit-loss-beta
  double entropy_ratio = 0.0;          // --entropy-loss-ratio
  std::string reconstruction = "l2";   // --reconstruction-loss: l1 | l2
  double reconstruction_weight = 1.0;  // --reconstruction-weight
  double perceptual_weight = 1.0;      // --perceptual-weight (LPIPS)
  double disc_weight = 0.5;            // --disc-weight
  int64_t disc_start = 20000;          // --disc-start: adversarial terms are weighted 0 before this step
  bool disc_adaptive_weight = false;   // VQLoss(disc_adaptive_weight=...)
  std::string disc_loss = "hinge";     // --disc-loss: hinge | vanilla | non-saturating
  std::string gen_loss = "hinge";      // --gen-loss: hinge | non-saturating
  double scale_drop_probability = 0.1; // TokenFlow.random_scale_drop_ratio

  // adopt_weight: the discriminator weight at `global_step` (the official loop passes steps + 1).
  double disc_weight_at(int64_t global_step) const { return global_step < disc_start ? 0.0 : disc_weight; }
  // Whether the run trains adversarially at all. With disc_weight 0 the discriminator is never run
  // (the official loop would still run and update it on a loss of zero), which saves its cost.
  bool adversarial() const { return disc_weight != 0.0; }
};

}  // namespace tokenflow::train
