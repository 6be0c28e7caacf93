#pragma once
// The generator side of the official VQLoss: semantic distillation, pixel reconstruction, LPIPS,
// the adversarial term and the quantizer's terms, summed into the loss the tokenizer minimises.
#include "train/training_forward.h"
#include "train/discriminator.h"
#include <tokenflow/train.h>
#include "train/lpips.h"
#include "model/teacher/teacher.h"

#include <memory>

namespace tokenflow::train {

struct GeneratorLoss {
  torch::Tensor total;
  // The terms unweighted, as the official loss_dict reports them.
  double reconstruction = 0, perceptual = 0, vq = 0, commit = 0, entropy = 0, semantic = 0, adversarial = 0;
  double adaptive_weight = 1, disc_weight = 0, codebook_usage = 0;
};

// 1 - cosine between the semantic decoder's output and the teacher's features, averaged over patches.
torch::Tensor semantic_distillation_loss(const torch::Tensor& reconstruction, const torch::Tensor& target);

struct GeneratorLossModules {
  std::shared_ptr<model::Teacher> teacher;
  std::shared_ptr<Lpips> lpips;  // null: no perceptual term (--perceptual none)
  std::shared_ptr<PatchDiscriminator> discriminator;
};

// `last_layer` is the decoder's conv_out weight, needed only for the adaptive weight.
GeneratorLoss generator_loss(const train::TrainingForward& output, const torch::Tensor& images,
                             const GeneratorLossModules& modules, const LossSettings& settings, int64_t global_step,
                             const torch::Tensor& last_layer);

}  // namespace tokenflow::train
