#include "train/generator_loss.h"

#include <tokenflow/error.h>

#include "train/adversarial_loss.h"

namespace tokenflow::train {

namespace {

torch::Tensor reconstruction_loss(const torch::Tensor& images, const torch::Tensor& pixels, const std::string& kind) {
  if (kind == "l1") return torch::l1_loss(images, pixels);
  if (kind == "l2") return torch::mse_loss(images, pixels);
  throw Error("unknown reconstruction loss '" + kind + "' (expected l1 or l2)");
}

// The official calculate_adaptive_weight: balances the adversarial gradient against the
// reconstruction gradient at the decoder's last layer.
torch::Tensor adaptive_weight(const torch::Tensor& nll, const torch::Tensor& adversarial, const torch::Tensor& last_layer) {
  auto nll_grad = torch::autograd::grad({nll}, {last_layer}, {}, /*retain_graph=*/true)[0];
  auto adversarial_grad = torch::autograd::grad({adversarial}, {last_layer}, {}, /*retain_graph=*/true)[0];
  return torch::clamp(torch::norm(nll_grad) / (torch::norm(adversarial_grad) + 1e-4), 0.0, 1e4).detach();
}

double value(const torch::Tensor& x) { return x.detach().item<double>(); }

}  // namespace

torch::Tensor semantic_distillation_loss(const torch::Tensor& reconstruction, const torch::Tensor& target) {
  auto t = target / target.norm(2, -1, /*keepdim=*/true);
  auto r = reconstruction / reconstruction.norm(2, -1, /*keepdim=*/true);
  return (1 - (t * r).sum(-1)).mean();
}

GeneratorLoss generator_loss(const train::TrainingForward& output, const torch::Tensor& images,
                             const GeneratorLossModules& modules, const LossSettings& settings, int64_t global_step,
                             const torch::Tensor& last_layer) {
  auto semantic = semantic_distillation_loss(output.semantic, modules.teacher->targets(images));
  auto rec = reconstruction_loss(images.contiguous(), output.pixels.contiguous(), settings.reconstruction);
  auto perceptual = modules.lpips ? torch::mean(modules.lpips->forward(images.contiguous(), output.pixels.contiguous()))
                                  : torch::zeros({}, images.options());
  auto adversarial = settings.adversarial() ? generator_adversarial_loss(settings.gen_loss, modules.discriminator->forward(
                                                                                  output.pixels.contiguous()))
                                            : torch::zeros({}, images.options());

  GeneratorLoss loss;
  loss.disc_weight = settings.disc_weight_at(global_step);
  torch::Tensor weight = torch::ones({}, images.options());
  if (settings.disc_adaptive_weight && settings.adversarial()) {
    weight = adaptive_weight(settings.reconstruction_weight * rec + settings.perceptual_weight * perceptual,
                             adversarial, last_layer);
  }
  loss.total = settings.reconstruction_weight * rec + settings.perceptual_weight * perceptual +
               weight * loss.disc_weight * adversarial + output.losses.vq + output.losses.commit +
               output.losses.entropy + semantic;
  loss.reconstruction = value(rec);
  loss.perceptual = value(perceptual);
  loss.vq = value(output.losses.vq);
  loss.commit = value(output.losses.commit);
  loss.entropy = value(output.losses.entropy);
  loss.semantic = value(semantic);
  loss.adversarial = value(adversarial);
  loss.adaptive_weight = value(weight);
  loss.codebook_usage = output.losses.codebook_usage;
  return loss;
}

}  // namespace tokenflow::train
