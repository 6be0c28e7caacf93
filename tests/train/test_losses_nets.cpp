// The training losses' networks against one official training step (../shared/parity/train_step):
// LPIPS on VGG16 in both weight layouts, the PatchGAN discriminator in train mode, the adversarial losses.
#include "parity_fixture.h"

#include "io/checkpoint.h"
#include "io/io_test_util.h"
#include "nn/weights.h"
#include "train/adversarial_loss.h"
#include "train/discriminator.h"
#include "train/lpips.h"

#include <tokenflow/error.h>

#include <cmath>
#include <cstdio>

namespace tokenflow {
namespace {

using io::test::error_of;
using io::test::ScratchDir;
using testing::expect_close;
using testing::parity_path;
using testing::parity_tensor;

const std::string kStep = "train_step";

nlohmann::json expected_losses() {
  std::ifstream in(parity_path(kStep, "expected.json"));
  return nlohmann::json::parse(in);
}

void expect_relative(double actual, double expected, double limit, const std::string& what) {
  const double relative = std::abs(actual - expected) / std::abs(expected);
  std::printf("  %-28s %.8f vs %.8f, relative error %.3e (limit %.0e)\n", what.c_str(), actual, expected, relative,
              limit);
  EXPECT_LE(relative, limit) << what;
}

torch::Tensor expected_logits(const nlohmann::json& expected, const std::string& key) {
  return torch::tensor(expected["discriminator"][key].get<std::vector<float>>());
}

// The official LPIPS state dict split as the two downloads are: torchvision's VGG16 (`features.N.*`, with a
// classifier that LPIPS ignores) and richzhang's linear heads.
struct TorchvisionLayout {
  io::StateDict vgg, heads;
};

TorchvisionLayout torchvision_layout(const io::StateDict& official) {
  TorchvisionLayout layout;
  for (const auto& name : official.names) {
    const auto& tensor = official.tensors.at(name);
    if (name.rfind("net.slice", 0) == 0) {
      layout.vgg.insert("features." + name.substr(name.find('.', 4) + 1), tensor);
    } else if (name.rfind("lin", 0) == 0) {
      layout.heads.insert(name, tensor);
    }
  }
  layout.vgg.insert("classifier.0.weight", torch::zeros({8, 4}));
  return layout;
}

io::StateDict without(const io::StateDict& state, const std::string& dropped) {
  io::StateDict kept;
  for (const auto& name : state.names) {
    if (name != dropped) kept.insert(name, state.tensors.at(name));
  }
  return kept;
}

class LpipsParity : public ::testing::Test {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY_FIXTURES();
    input_ = parity_tensor(kStep, "input");
    recon_ = parity_tensor(kStep, "recon");
  }
  torch::Tensor input_, recon_;
};

TEST_F(LpipsParity, OfficialStateDictGivesTheFixturePerceptualLoss) {
  const auto lpips = train::load_lpips({parity_path(kStep, "lpips_vgg16.pt")});
  torch::NoGradGuard no_grad;
  const auto distance = lpips->forward(input_, recon_);
  EXPECT_EQ(distance.sizes(), torch::IntArrayRef({2, 1, 1, 1}));
  expect_relative(distance.mean().item<double>(), expected_losses()["generator"]["p_loss"].get<double>(), 1e-4,
                  "p_loss");
}

TEST_F(LpipsParity, TorchvisionWeightsAndHeadsInTwoFilesGiveTheSameLoss) {
  const auto official_path = parity_path(kStep, "lpips_vgg16.pt");
  const auto layout = torchvision_layout(io::load_state_dict(official_path));
  ScratchDir scratch;
  io::save_safetensors(scratch.file("vgg16.safetensors"), layout.vgg);
  io::save_safetensors(scratch.file("vgg.safetensors"), layout.heads);

  const auto official = train::load_lpips({official_path});
  const auto torchvision = train::load_lpips({scratch.file("vgg16.safetensors"), scratch.file("vgg.safetensors")});
  torch::NoGradGuard no_grad;
  expect_close(torchvision->forward(input_, recon_), official->forward(input_, recon_), 0.0, "LPIPS, two layouts");
}

TEST(Lpips, LoadingErrorsNameTheFilesAndTheTensor) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto official_path = parity_path(kStep, "lpips_vgg16.pt");
  const auto official = io::load_state_dict(official_path);
  const auto layout = torchvision_layout(official);
  ScratchDir scratch;
  const auto vgg_file = scratch.file("vgg16.safetensors"), heads_file = scratch.file("vgg.safetensors");
  const auto both = vgg_file + " + " + heads_file;
  io::save_safetensors(vgg_file, without(layout.vgg, "features.5.weight"));
  io::save_safetensors(heads_file, layout.heads);
  EXPECT_EQ(error_of([&] { train::load_lpips({vgg_file, heads_file}); }, both),
            both + ": missing tensor net.slice2.5.weight (torchvision: features.5.weight)");

  io::save_safetensors(vgg_file, layout.vgg);
  EXPECT_EQ(error_of([&] { train::load_lpips({vgg_file}); }, vgg_file),
            vgg_file + ": missing tensor lin0.model.1.weight");
  EXPECT_EQ(error_of([&] { train::load_lpips({heads_file, vgg_file, heads_file}); }, heads_file),
            heads_file + ": tensor lin0.model.1.weight is also in an earlier LPIPS file");

  auto heads = layout.heads;
  heads.insert("lin2.model.1.weight", torch::zeros({1, 128, 1, 1}));
  io::save_safetensors(heads_file, heads);
  EXPECT_EQ(error_of([&] { train::load_lpips({vgg_file, heads_file}); }, both),
            both + ": tensor lin2.model.1.weight has shape [1,128,1,1] where [1,256,1,1] was expected");

  auto shifted = official;
  shifted.insert("scaling_layer.shift", official.tensors.at("scaling_layer.shift") + 0.01);
  const auto shifted_file = scratch.file("shifted.safetensors");
  io::save_safetensors(shifted_file, shifted);
  EXPECT_EQ(error_of([&] { train::load_lpips({shifted_file}); }, shifted_file),
            shifted_file + ": tensor scaling_layer.shift differs from the official LPIPS constants");
}

TEST_F(LpipsParity, FrozenWeightsButTheReconstructionGetsAGradient) {
  const auto lpips = train::load_lpips({parity_path(kStep, "lpips_vgg16.pt")});
  for (const auto& parameter : lpips->parameters()) EXPECT_FALSE(parameter.requires_grad());
  const auto recon = recon_.clone().requires_grad_(true);
  lpips->forward(input_, recon).mean().backward();
  ASSERT_TRUE(recon.grad().defined());
  EXPECT_TRUE(torch::isfinite(recon.grad()).all().item<bool>());
  const double norm = recon.grad().norm().item<double>();
  std::printf("  |d p_loss / d recon| = %.3e\n", norm);
  EXPECT_GT(norm, 0.0);
  for (const auto& parameter : lpips->parameters()) EXPECT_FALSE(parameter.grad().defined());
}

// Eval mode (the state the official LPIPS().eval() starts in) is deterministic and is what the fixture
// holds; train mode applies the official dropout before the heads.
TEST_F(LpipsParity, DropoutOnlyInTrainMode) {
  const auto lpips = train::load_lpips({parity_path(kStep, "lpips_vgg16.pt")});
  EXPECT_FALSE(lpips->is_training());
  torch::NoGradGuard no_grad;
  const auto a = input_.narrow(0, 0, 1), b = recon_.narrow(0, 0, 1);
  const auto evaluated = lpips->forward(a, b);
  EXPECT_TRUE(torch::equal(lpips->forward(a, b), evaluated));
  lpips->train();
  torch::manual_seed(0);
  EXPECT_FALSE(torch::equal(lpips->forward(a, b), evaluated));
}

class DiscriminatorParity : public ::testing::Test {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY_FIXTURES();
    const auto path = parity_path(kStep, "discriminator.pt");
    discriminator_ = train::load_discriminator(io::load_state_dict(path), path);
    input_ = parity_tensor(kStep, "input");
    recon_ = parity_tensor(kStep, "recon");
  }
  std::shared_ptr<train::PatchDiscriminator> discriminator_;
  torch::Tensor input_, recon_;
};

// As the official step: D on the inputs and D on the reconstructions are separate calls in train mode,
// each normalised with its own batch statistics.
TEST_F(DiscriminatorParity, TrainModeLogitsAndLossesMatchTheOfficialStep) {
  ASSERT_TRUE(discriminator_->is_training());
  torch::NoGradGuard no_grad;
  const auto logits_real = discriminator_->forward(input_);
  const auto logits_fake = discriminator_->forward(recon_);
  EXPECT_EQ(logits_real.sizes(), torch::IntArrayRef({2, 1, 26, 26}));
  const auto expected = expected_losses();
  expect_close(logits_real.flatten(), expected_logits(expected, "logits_real"), 1e-4, "logits_real");
  expect_close(logits_fake.flatten(), expected_logits(expected, "logits_fake"), 1e-4, "logits_fake");
  const double disc_weight = expected["discriminator"]["disc_weight"].get<double>();
  expect_relative(disc_weight * train::hinge_d_loss(logits_real, logits_fake).item<double>(),
                  expected["discriminator"]["discriminator_adv_loss"].get<double>(), 1e-4, "discriminator_adv_loss");
  expect_relative(train::hinge_gen_loss(logits_fake).item<double>(),
                  expected["generator"]["generator_adv_loss"].get<double>(), 1e-4, "generator_adv_loss");
}

// PyTorch's BatchNorm in train mode: running mean and (unbiased) variance move by momentum 0.1 towards the
// batch's, num_batches_tracked counts the call; eval mode leaves them alone.
TEST_F(DiscriminatorParity, TrainModeUpdatesRunningStatisticsAsPyTorch) {
  auto& main = discriminator_->main;
  auto* norm = main->ptr(3)->as<torch::nn::BatchNorm2d>();
  ASSERT_NE(norm, nullptr);
  const auto mean_before = norm->running_mean.clone(), var_before = norm->running_var.clone();
  const auto tracked_before = norm->num_batches_tracked.item<int64_t>();
  torch::NoGradGuard no_grad;
  // What main.3 sees: conv, LeakyReLU, conv.
  auto h = main->ptr(0)->as<torch::nn::Conv2d>()->forward(input_);
  h = main->ptr(1)->as<torch::nn::LeakyReLU>()->forward(h);
  h = main->ptr(2)->as<torch::nn::Conv2d>()->forward(h);
  const auto batch_mean = h.mean({0, 2, 3});
  const auto batch_var = h.var({0, 2, 3}, /*unbiased=*/true);

  discriminator_->forward(input_);
  expect_close(norm->running_mean, 0.9 * mean_before + 0.1 * batch_mean, 1e-6, "running_mean");
  expect_close(norm->running_var, 0.9 * var_before + 0.1 * batch_var, 1e-5, "running_var");
  EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), tracked_before + 1);

  discriminator_->eval();
  const auto mean_after = norm->running_mean.clone();
  discriminator_->forward(input_);
  EXPECT_TRUE(torch::equal(norm->running_mean, mean_after));
  EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), tracked_before + 1);
}

TEST(PatchDiscriminator, OfficialNamesShapesAndInitialisation) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto path = parity_path(kStep, "discriminator.pt");
  const auto official = io::load_state_dict(path);
  train::PatchDiscriminator discriminator;
  const auto ours = nn::collect_weights(discriminator);
  EXPECT_EQ(ours.names.size(), official.names.size());
  for (const auto& name : official.names) {
    ASSERT_TRUE(ours.contains(name)) << name;
    EXPECT_EQ(ours.tensors.at(name).sizes(), official.tensors.at(name).sizes()) << name;
    EXPECT_EQ(ours.tensors.at(name).dtype(), official.tensors.at(name).dtype()) << name;
  }
  // N(0, 0.02) conv weights, N(1, 0.02) and 0 for BatchNorm, PyTorch's default conv biases.
  const auto conv_weight = ours.tensors.at("main.8.weight");
  EXPECT_NEAR(conv_weight.mean().item<double>(), 0.0, 1e-3);
  EXPECT_NEAR(conv_weight.std().item<double>(), 0.02, 1e-3);
  EXPECT_NEAR(ours.tensors.at("main.9.weight").mean().item<double>(), 1.0, 5e-3);
  EXPECT_NEAR(ours.tensors.at("main.9.weight").std().item<double>(), 0.02, 5e-3);
  EXPECT_TRUE(torch::equal(ours.tensors.at("main.9.bias"), torch::zeros({512})));
  const double bias_bound = 1.0 / std::sqrt(3.0 * 4 * 4);
  EXPECT_LE(ours.tensors.at("main.0.bias").abs().max().item<double>(), bias_bound);
  EXPECT_GT(ours.tensors.at("main.0.bias").abs().max().item<double>(), 0.5 * bias_bound);
}

TEST(PatchDiscriminator, SizesAreReadFromTheStateDict) {
  train::PatchDiscriminator small(/*input_channels=*/4, /*channels=*/8, /*layers=*/2);
  const auto state = nn::collect_weights(small);
  const auto loaded = train::load_discriminator(state, "small.pt");
  EXPECT_EQ(nn::collect_weights(*loaded).names, state.names);
  EXPECT_EQ(loaded->forward(torch::randn({2, 4, 32, 32})).sizes(), torch::IntArrayRef({2, 1, 6, 6}));
  EXPECT_EQ(error_of([&] { train::load_discriminator(without(state, "main.3.running_var"), "small.pt"); }, "small.pt"),
            "small.pt: missing tensor main.3.running_var");
}

// Values of the official vq_loss.py functions on these logits (PyTorch 1.13).
TEST(AdversarialLoss, MatchTheOfficialFunctions) {
  const auto real = torch::tensor({0.5f, -1.25f, 2.0f, 0.6f}).reshape({2, 2});
  const auto fake = torch::tensor({-0.3f, 0.8f, 1.5f, -1.5f}).reshape({2, 2});
  EXPECT_NEAR(train::hinge_d_loss(real, fake).item<double>(), 1.0187499523162842, 1e-6);
  EXPECT_NEAR(train::vanilla_d_loss(real, fake).item<double>(), 0.7710880637168884, 1e-6);
  EXPECT_NEAR(train::non_saturating_d_loss(real, fake).item<double>(), 0.7719544172286987, 1e-6);
  EXPECT_NEAR(train::hinge_gen_loss(fake).item<double>(), -0.125, 1e-6);
  EXPECT_NEAR(train::non_saturating_gen_loss(fake).item<double>(), 1.18826162815094, 1e-6);
}

TEST(AdversarialLoss, ChosenByTheOfficialNames) {
  const auto real = torch::tensor({0.5f, -1.25f}), fake = torch::tensor({-0.3f, 0.8f});
  EXPECT_TRUE(torch::equal(train::discriminator_adversarial_loss("hinge", real, fake),
                           train::hinge_d_loss(real, fake)));
  EXPECT_TRUE(torch::equal(train::discriminator_adversarial_loss("vanilla", real, fake),
                           train::vanilla_d_loss(real, fake)));
  EXPECT_TRUE(torch::equal(train::discriminator_adversarial_loss("non-saturating", real, fake),
                           train::non_saturating_d_loss(real, fake)));
  EXPECT_TRUE(torch::equal(train::generator_adversarial_loss("hinge", fake), train::hinge_gen_loss(fake)));
  EXPECT_TRUE(torch::equal(train::generator_adversarial_loss("non-saturating", fake),
                           train::non_saturating_gen_loss(fake)));
  EXPECT_THROW(train::discriminator_adversarial_loss("wasserstein", real, fake), Error);
  EXPECT_THROW(train::generator_adversarial_loss("vanilla", fake), Error);
}

TEST(AdversarialLoss, GeneratorLossesPassGradientsToTheLogits) {
  const auto fake = torch::tensor({-0.3f, 0.8f, 1.5f, -1.5f}).requires_grad_(true);
  train::non_saturating_gen_loss(fake).backward();
  // The official argument order makes this softplus(1) - mean(logits): a gradient of -1/N each.
  EXPECT_TRUE(torch::allclose(fake.grad(), torch::full({4}, -0.25)));
}

}  // namespace
}  // namespace tokenflow
