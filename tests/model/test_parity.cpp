// Every output of the official code on the three parity fixtures, to the tolerances of
// ../shared/parity/README.md.
#include "parity_fixture.h"

#include <tokenflow/tokenflow.h>

namespace tokenflow {
namespace {

using testing::expect_close;
using testing::parity_config;
using testing::parity_path;
using testing::parity_tensor;

class Parity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    TOKENFLOW_REQUIRE_PARITY_FIXTURES();
    model_ = std::make_unique<Model>(Model::load(parity_path(GetParam(), "model.pt"), testing::exact_options()));
    input_ = parity_tensor(GetParam(), "input");
  }
  std::unique_ptr<Model> model_;
  torch::Tensor input_;
};

TEST_P(Parity, DetectsTheOfficialConfiguration) {
  const auto expected = parity_config(GetParam());
  const auto& config = model_->config();
  EXPECT_EQ(config.image_size, expected["image_size"].get<int>());
  EXPECT_EQ(config.scales, expected["scales"].get<std::vector<int>>());
  EXPECT_EQ(config.tokens_per_image, expected["tokens_per_image"].get<int>());
  EXPECT_EQ(config.codebook_size, expected["codebook_size"].get<int>());
  const bool clip_teacher = expected["teacher"].get<std::string>().rfind("clip", 0) == 0;  // clipb_224 or siglip_384
  EXPECT_EQ(config.teacher, clip_teacher ? tokenflow::Teacher::Clip : tokenflow::Teacher::Siglip);
}

TEST_P(Parity, ContinuousFeatures) {
  expect_close(model_->semantic_features(input_), parity_tensor(GetParam(), "sem_features"), 1e-4, "sem_features");
  expect_close(model_->pixel_features(input_), parity_tensor(GetParam(), "pix_features"), 1e-4, "pix_features");
}

TEST_P(Parity, EncodeGivesTheOfficialIndices) {
  const auto result = model_->encode(input_);
  const auto expected = parity_tensor(GetParam(), "indices");
  ASSERT_EQ(result.indices.sizes(), expected.sizes());
  const auto mismatches = result.indices.ne(expected).sum().item<int64_t>();
  EXPECT_EQ(mismatches, 0) << "of " << expected.numel() << " indices";
  expect_close(result.features, parity_tensor(GetParam(), "quant"), 1e-4, "quant");
}

TEST_P(Parity, DecodeFeatures) {
  const auto quant = parity_tensor(GetParam(), "quant");
  expect_close(model_->decode_features(quant), parity_tensor(GetParam(), "recon"), 1e-3, "recon");
  expect_close(model_->semantic_reconstruction(quant), parity_tensor(GetParam(), "sem_recon"), 1e-3, "sem_recon");
}

TEST_P(Parity, DecodeIndices) {
  const auto indices = parity_tensor(GetParam(), "indices");
  expect_close(model_->decode_indices(indices), parity_tensor(GetParam(), "recon_from_codes"), 1e-3,
               "recon_from_codes");
}

TEST_P(Parity, UnderstandingFeaturesAreTheQuantisedMapFlattened) {
  const auto features = model_->understanding_features(input_);
  const auto quant = parity_tensor(GetParam(), "quant");
  expect_close(features, quant.flatten(2).transpose(1, 2), 1e-4, "understanding features");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity, ::testing::Values("clipb224", "clipb256e", "siglip384"));

// clipb256e holds the weights to use under `ema` and a decoy under `model` whose
// decoder.conv_out.bias is off by 0.5: loading the decoy would miss `recon` by about 0.5.
TEST(ParityCheckpointKey, Clipb256eLoadsEmaNotTheDecoy) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto model = Model::load(parity_path("clipb256e", "model.pt"), testing::exact_options());
  const auto recon = model.decode_features(parity_tensor("clipb256e", "quant"));
  expect_close(recon, parity_tensor("clipb256e", "recon"), 1e-3, "recon with ema weights");
}

}  // namespace
}  // namespace tokenflow
