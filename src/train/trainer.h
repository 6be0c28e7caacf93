#pragma once
// One training step of the official recipe (vq_train.py): the tokenizer's generator update (loss,
// backward, gradient clipping, Adam, EMA), then the discriminator's update on the same batch.
#include <tokenflow/train.h>

#include "model/tokenizer/architecture.h"
#include "model/tokenizer/tokenflow_net.h"
#include "train/generator_loss.h"

#include <functional>
#include <memory>
#include <vector>

namespace tokenflow::train {

struct DiscriminatorLoss {
  double loss = 0;  // already weighted by the discriminator weight
  torch::Tensor logits_real, logits_fake;
};

struct StepResult {
  GeneratorLoss generator;
  DiscriminatorLoss discriminator;
  double generator_grad_norm = 0, discriminator_grad_norm = 0;  // before clipping
  std::vector<int> scales;                                       // the scales this step quantised
};

class Trainer {
 public:
  Trainer(const model::Architecture& architecture, std::shared_ptr<model::TokenFlowNet> net,
          GeneratorLossModules modules, TrainSettings settings);

  // A whole step at global step steps() + 1.
  StepResult step(const torch::Tensor& images);

  // The parts of step(), in order, for tests that look between them.
  train::TrainingForward generator_forward(const torch::Tensor& images, const std::vector<int>& scales);
  GeneratorLoss generator_backward(const train::TrainingForward& output, const torch::Tensor& images);
  double generator_update();  // averages gradients across processes, clips, steps Adam and the EMA
  DiscriminatorLoss discriminator_backward(const torch::Tensor& images, const torch::Tensor& pixels);
  double discriminator_update();
  // The scales of step `global_step`: the full schedule, or one dropped at random.
  std::vector<int> scales_for_step(int64_t global_step) const;

  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }

  // Called with the parameters whose gradients must be averaged across data-parallel processes
  // before clipping; left empty for a single process.
  std::function<void(const std::vector<torch::Tensor>&)> synchronize_gradients;

  model::TokenFlowNet& net() { return *net_; }
  model::TokenFlowNet* ema() { return ema_.get(); }
  PatchDiscriminator& discriminator() { return *modules_.discriminator; }
  torch::optim::Adam& optimizer() { return *optimizer_; }
  torch::optim::Adam& discriminator_optimizer() { return *discriminator_optimizer_; }
  const std::vector<torch::Tensor>& trained_parameters() const { return trained_; }
  const TrainSettings& settings() const { return settings_; }

 private:
  void update_ema();

  std::shared_ptr<model::TokenFlowNet> net_, ema_;
  GeneratorLossModules modules_;
  TrainSettings settings_;
  std::vector<torch::Tensor> trained_, discriminator_parameters_;
  std::unique_ptr<torch::optim::Adam> optimizer_, discriminator_optimizer_;
  int64_t steps_ = 0;
};

}  // namespace tokenflow::train
