#include "train/trainer.h"

#include "train/adversarial_loss.h"

#include <random>

namespace tokenflow::train {

namespace {

torch::optim::AdamOptions adam_options(const OptimizerSettings& s) {
  return torch::optim::AdamOptions(s.lr).betas({s.beta1, s.beta2}).eps(1e-8).weight_decay(0);
}

void set_requires_grad(const std::vector<torch::Tensor>& parameters, bool flag) {
  for (auto p : parameters) p.requires_grad_(flag);
}

// torch.nn.utils.clip_grad_norm_: returns the global norm before clipping; max_norm 0 only measures.
double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2));
  }
  if (norms.empty()) return 0.0;
  auto total = torch::stack(norms).norm(2);
  if (max_norm > 0) {
    auto coefficient = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
    torch::NoGradGuard no_grad;
    for (auto& p : parameters) {
      if (p.grad().defined()) p.grad().mul_(coefficient);
    }
  }
  return total.item<double>();
}

}  // namespace

Trainer::Trainer(const model::Architecture& architecture, std::shared_ptr<model::TokenFlowNet> net,
                 GeneratorLossModules modules, TrainSettings settings)
    : net_(std::move(net)), modules_(std::move(modules)), settings_(std::move(settings)) {
  net_->train();
  modules_.discriminator->train();
  for (auto& named : net_->named_parameters()) {
    const bool trained = !settings_.optimizer.finetune_decoder || named.key().rfind("decoder.", 0) == 0;
    named.value().requires_grad_(trained);
    if (trained) trained_.push_back(named.value());
  }
  discriminator_parameters_ = modules_.discriminator->parameters();
  optimizer_ = std::make_unique<torch::optim::Adam>(trained_, adam_options(settings_.optimizer));
  discriminator_optimizer_ =
      std::make_unique<torch::optim::Adam>(discriminator_parameters_, adam_options(settings_.optimizer));
  if (settings_.optimizer.ema) {
    ema_ = std::make_shared<model::TokenFlowNet>(architecture);
    ema_->to(net_->device);
    ema_->device = net_->device;
    ema_->eval();
    torch::NoGradGuard no_grad;
    auto source = net_->named_parameters();
    for (auto& named : ema_->named_parameters()) {
      named.value().requires_grad_(false);
      named.value().copy_(source[named.key()]);
    }
    auto source_buffers = net_->named_buffers();
    for (auto& named : ema_->named_buffers()) named.value().copy_(source_buffers[named.key()]);
  }
}

std::vector<int> Trainer::scales_for_step(int64_t global_step) const {
  std::seed_seq seed{static_cast<uint64_t>(settings_.seed), static_cast<uint64_t>(global_step)};
  std::mt19937_64 rng(seed);
  return train::drop_random_scale(net_->config.scales, settings_.loss.scale_drop_probability, rng);
}

train::TrainingForward Trainer::generator_forward(const torch::Tensor& images, const std::vector<int>& scales) {
  return train::forward_training(*net_, images, scales,
                                 {settings_.loss.commit_beta, settings_.loss.entropy_ratio});
}

GeneratorLoss Trainer::generator_backward(const train::TrainingForward& output, const torch::Tensor& images) {
  optimizer_->zero_grad();
  // The generator's loss runs the discriminator, but only the reconstruction needs its gradient.
  set_requires_grad(discriminator_parameters_, false);
  auto loss = generator_loss(output, images, modules_, settings_.loss, steps_ + 1, net_->decoder->conv_out->weight);
  set_requires_grad(discriminator_parameters_, true);
  loss.total.backward();
  return loss;
}

double Trainer::generator_update() {
  if (synchronize_gradients) synchronize_gradients(trained_);
  const double norm = clip_gradients(trained_, settings_.optimizer.max_grad_norm);
  optimizer_->step();
  if (ema_) update_ema();
  return norm;
}

void Trainer::update_ema() {
  torch::NoGradGuard no_grad;
  const double decay = settings_.optimizer.ema_decay;
  auto source = net_->named_parameters();
  for (auto& named : ema_->named_parameters()) named.value().mul_(decay).add_(source[named.key()], 1 - decay);
}

DiscriminatorLoss Trainer::discriminator_backward(const torch::Tensor& images, const torch::Tensor& pixels) {
  discriminator_optimizer_->zero_grad();
  DiscriminatorLoss result;
  result.logits_real = modules_.discriminator->forward(images.contiguous().detach());
  result.logits_fake = modules_.discriminator->forward(pixels.contiguous().detach());
  auto loss = settings_.loss.disc_weight_at(steps_ + 1) *
              discriminator_adversarial_loss(settings_.loss.disc_loss, result.logits_real, result.logits_fake);
  loss.backward();
  result.loss = loss.item<double>();
  return result;
}

double Trainer::discriminator_update() {
  if (synchronize_gradients) synchronize_gradients(discriminator_parameters_);
  const double norm = clip_gradients(discriminator_parameters_, settings_.optimizer.max_grad_norm);
  discriminator_optimizer_->step();
  return norm;
}

StepResult Trainer::step(const torch::Tensor& images) {
  StepResult result;
  result.scales = scales_for_step(steps_ + 1);
  auto output = generator_forward(images, result.scales);
  result.generator = generator_backward(output, images);
  result.generator_grad_norm = generator_update();
  if (settings_.loss.adversarial()) {
    result.discriminator = discriminator_backward(images, output.pixels);
    result.discriminator_grad_norm = discriminator_update();
  }
  ++steps_;
  return result;
}

}  // namespace tokenflow::train
