// One official training step (../shared/parity/train_step): every loss term, the discriminator's
// loss and logits, the listed gradients, the global gradient norm and the weights after one clipped
// Adam step, to the tolerances of ../shared/parity/README.md.
#include "parity_fixture.h"

#include "io/checkpoint.h"
#include "model/tokenizer/architecture.h"
#include "nn/weights.h"
#include "train/trainer.h"

#include <map>

namespace tokenflow {
namespace {

using testing::expect_close;
using testing::parity_path;
using testing::parity_tensor;

std::string fixture(const std::string& file) { return parity_path("train_step", file); }

nlohmann::json expected() {
  std::ifstream in(fixture("expected.json"));
  return nlohmann::json::parse(in);
}

void expect_relative(double actual, double reference, double limit, const std::string& what) {
  const double relative = std::abs(actual - reference) / std::max(std::abs(reference), 1e-12);
  std::printf("  %-28s %.9g vs %.9g (relative %.2e, limit %.0e)\n", what.c_str(), actual, reference, relative, limit);
  EXPECT_LE(relative, limit) << what;
}

// Parameters after the clipped Adam step: within 1e-6 of the official values wherever the gradient
// is determined to better than 1%. The first Adam step moves each weight by about lr * sign(gradient),
// so a weight whose gradient is mostly float32 rounding (a sum that nearly cancels) moves by anything
// up to lr either way, differently in any two float32 runs (ours in 1 and 2 threads among them):
// those weights are held to Adam's bound, 2 lr apart. The count is printed.
void expect_after_step(const torch::Tensor& actual, const torch::Tensor& expected, const torch::Tensor& gradient,
                       const torch::Tensor& expected_gradient, double lr, const std::string& name) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name;
  const auto diff = (actual - expected).abs();
  const auto determined = (gradient - expected_gradient).abs() <= 0.01 * expected_gradient.abs();
  const double determined_diff = torch::where(determined, diff, torch::zeros_like(diff)).max().item<double>();
  const double all_diff = diff.max().item<double>();
  const auto noisy = (~determined).sum().item<int64_t>();
  std::printf("  after_step %-32s max |diff| = %.3e where the gradient agrees, %.3e over all (%ld of %ld noisy)\n",
              name.c_str(), determined_diff, all_diff, static_cast<long>(noisy), static_cast<long>(diff.numel()));
  EXPECT_LE(determined_diff, 1e-6) << name;
  EXPECT_LE(all_diff, 2 * lr * (1 + 1e-3)) << name;
}

// The listed parameters of the fixture (grad.<name>.npy and after_step.<name>.npy).
const std::vector<std::string> kListed = {
    "decode_task_layer.2.weight", "decoder.conv_out.bias",  "decoder.conv_out.weight",
    "encode_task_layer.2.weight", "encoder.conv_in.weight", "encoder_vqkd.conv1.weight",
    "post_quant_conv.weight",     "quant_conv.weight",      "quantize.embedding_vqgan.weight",
    "quantize.embedding_vqkd.weight"};

class TrainStep : public ::testing::Test {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY_FIXTURES();
    const auto state = io::load_state_dict(fixture("model.pt"), "model");
    architecture_ = model::detect_architecture(state, {}, fixture("model.pt"));
    net_ = std::make_shared<model::TokenFlowNet>(architecture_);
    nn::load_weights(*net_, state, fixture("model.pt"));

    auto& modules = modules_;
    modules.teacher = model::load_teacher(fixture("teacher_clip.pt"));
    modules.lpips = train::load_lpips({fixture("lpips_vgg16.pt")});
    modules.discriminator =
        train::load_discriminator(io::load_state_dict(fixture("discriminator.pt")), fixture("discriminator.pt"));

    const auto settings = expected()["settings"];
    auto& train_settings = settings_;
    train_settings.loss.commit_beta = settings["commit_loss_beta"].get<double>();
    train_settings.loss.disc_weight = settings["disc_weight"].get<double>();
    train_settings.loss.disc_start = settings["disc_start"].get<int64_t>();
    train_settings.loss.perceptual_weight = settings["perceptual_weight"].get<double>();
    train_settings.loss.scale_drop_probability = 0.0;  // switched off in the fixture
    train_settings.optimizer.lr = settings["adam_lr"].get<double>();
    train_settings.optimizer.beta1 = settings["adam_betas"][0].get<double>();
    train_settings.optimizer.beta2 = settings["adam_betas"][1].get<double>();
    train_settings.optimizer.max_grad_norm = settings["max_grad_norm"].get<double>();
    trainer_ = std::make_unique<train::Trainer>(architecture_, net_, modules, train_settings);
    trainer_->set_steps(settings["global_step"].get<int64_t>() - 1);
    input_ = parity_tensor("train_step", "input");
  }

  torch::Tensor parameter(const std::string& name) { return net_->named_parameters()[name]; }

  // The listed gradients of one forward and backward pass in `threads` threads.
  std::map<std::string, torch::Tensor> gradients_in_threads(int threads) {
    const int previous = at::get_num_threads();
    at::set_num_threads(threads);
    net_->zero_grad();
    trainer_->generator_backward(trainer_->generator_forward(input_, net_->config.scales), input_);
    std::map<std::string, torch::Tensor> listed;
    for (const auto& name : kListed) listed[name] = parameter(name).grad().clone();
    net_->zero_grad();
    at::set_num_threads(previous);
    return listed;
  }

  model::Architecture architecture_;
  train::GeneratorLossModules modules_;
  train::TrainSettings settings_;
  std::shared_ptr<model::TokenFlowNet> net_;
  std::unique_ptr<train::Trainer> trainer_;
  torch::Tensor input_;
};

TEST_F(TrainStep, LossesGradientsAndOneAdamStepMatchTheOfficialCode) {
  const auto reference = expected();
  const auto one_thread = gradients_in_threads(1), two_threads = gradients_in_threads(2);
  auto output = trainer_->generator_forward(input_, net_->config.scales);
  expect_close(output.pixels.detach(), parity_tensor("train_step", "recon"), 1e-3, "recon (train mode)");

  const auto loss = trainer_->generator_backward(output, input_);
  const auto& g = reference["generator"];
  expect_relative(loss.reconstruction, g["rec_loss"].get<double>(), 1e-4, "rec_loss");
  expect_relative(loss.perceptual, g["p_loss"].get<double>(), 1e-4, "p_loss");
  expect_relative(loss.vq, g["vq_loss"].get<double>(), 1e-4, "vq_loss");
  expect_relative(loss.commit, g["commit_loss"].get<double>(), 1e-4, "commit_loss");
  EXPECT_EQ(loss.entropy, g["entropy_loss"].get<double>());
  expect_relative(loss.semantic, g["vqkd_loss"].get<double>(), 1e-4, "vqkd_loss");
  expect_relative(loss.adversarial, g["generator_adv_loss"].get<double>(), 1e-4, "generator_adv_loss");
  expect_relative(loss.total.item<double>(), reference["generator_total"].get<double>(), 1e-4, "generator_total");

  // The pixel branch's gradients on this fixture are not determined to 1e-3 by float32 arithmetic:
  // ours differ from themselves by up to 6e-3 between 1 and 2 threads, as much as from the official
  // ones. Each gradient is held to 1e-3 or to twice that spread of our own, whichever is larger.
  for (const auto& name : kListed) {
    const auto grad = parameter(name).grad();
    const auto want = parity_tensor("train_step", "grad." + name);
    ASSERT_TRUE(grad.defined()) << name;
    ASSERT_EQ(grad.sizes(), want.sizes()) << name;
    const double relative = ((grad - want).norm() / want.norm()).item<double>();
    const double spread = ((one_thread.at(name) - two_threads.at(name)).norm() / want.norm()).item<double>();
    const double limit = std::max(1e-3, 2 * spread);
    std::printf("  grad %-36s relative %.2e (ours across threads %.2e, limit %.1e)\n", name.c_str(), relative, spread,
                limit);
    EXPECT_LE(relative, limit) << name;
  }

  std::map<std::string, torch::Tensor> gradients;
  for (const auto& name : kListed) gradients[name] = parameter(name).grad().clone();
  const double norm = trainer_->generator_update();
  expect_relative(norm, reference["grad_global_norm_before_clip"].get<double>(), 1e-4, "global grad norm");
  for (const auto& name : kListed) {
    expect_after_step(parameter(name).detach(), parity_tensor("train_step", "after_step." + name), gradients[name],
                      parity_tensor("train_step", "grad." + name), settings_.optimizer.lr, name);
  }

  // The discriminator's step on the official reconstruction: ours is within float32 rounding of it
  // (recon above), but the discriminator amplifies those differences in the fake logits beyond 1e-4.
  const auto discriminator = trainer_->discriminator_backward(input_, parity_tensor("train_step", "recon"));
  const auto& d = reference["discriminator"];
  expect_relative(discriminator.loss, d["discriminator_adv_loss"].get<double>(), 1e-4, "discriminator loss");
  const auto real = torch::tensor(d["logits_real"].get<std::vector<float>>());
  const auto fake = torch::tensor(d["logits_fake"].get<std::vector<float>>());
  expect_close(discriminator.logits_real.detach().flatten(), real, 1e-4, "logits_real");
  expect_close(discriminator.logits_fake.detach().flatten(), fake, 1e-4, "logits_fake");
}

// A run without adversarial training (--disc-weight 0) never runs the discriminator: its weights
// and BatchNorm statistics stay as they were, and the generator's adversarial term is zero.
TEST_F(TrainStep, ZeroDiscriminatorWeightLeavesTheDiscriminatorUntouched) {
  auto settings = settings_;
  settings.loss.disc_weight = 0;
  train::Trainer trainer(architecture_, net_, modules_, settings);
  std::map<std::string, torch::Tensor> before;
  for (const auto& named : modules_.discriminator->named_parameters()) before[named.key()] = named.value().clone();
  for (const auto& named : modules_.discriminator->named_buffers()) before[named.key()] = named.value().clone();
  const auto result = trainer.step(input_);
  EXPECT_EQ(result.generator.adversarial, 0.0);
  EXPECT_EQ(result.discriminator.loss, 0.0);
  EXPECT_GT(result.generator.reconstruction, 0.0);
  for (const auto& named : modules_.discriminator->named_parameters()) EXPECT_TRUE(torch::equal(named.value(), before[named.key()])) << named.key();
  for (const auto& named : modules_.discriminator->named_buffers()) EXPECT_TRUE(torch::equal(named.value(), before[named.key()])) << named.key();
}

// The optimizer's parameter order is the official one (the state dict's order), so that optimizer
// states written by either side line up.
TEST_F(TrainStep, ParametersAreInTheOfficialOrder) {
  const auto state = io::load_state_dict(fixture("model.pt"), "model");
  std::vector<std::string> official;
  const auto ours = net_->named_parameters();
  for (const auto& name : state.names) {
    if (ours.contains(name)) official.push_back(name);
  }
  std::vector<std::string> order;
  for (const auto& named : ours) order.push_back(named.key());
  EXPECT_EQ(order, official);
}

}  // namespace
}  // namespace tokenflow
