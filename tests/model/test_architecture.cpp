// Configuration detection from tensor shapes, and its errors.
#include "model/tokenizer/architecture.h"

#include "io/checkpoint.h"
#include "model/tokenizer/presets.h"
#include "model/tokenizer/tokenflow_net.h"
#include "nn/weights.h"
#include "parity_fixture.h"

namespace tokenflow::model {
namespace {

io::StateDict fixture_state(const std::string& variant) {
  return io::load_state_dict(testing::parity_path(variant, "model.pt"));
}

TEST(ScaleSchedule, OfficialSchedules) {
  EXPECT_EQ(scale_schedule(14), (std::vector<int>{1, 2, 4, 6, 8, 10, 12, 14}));
  EXPECT_EQ(scale_schedule(16), (std::vector<int>{1, 2, 4, 6, 8, 10, 12, 14, 16}));
  EXPECT_EQ(scale_schedule(27), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 17, 22, 27}));
  EXPECT_EQ(scale_schedule(8), (std::vector<int>{1, 2, 4, 6, 8}));
  EXPECT_EQ(scale_schedule(9), (std::vector<int>{1, 2, 4, 6, 8, 9}));
}

TEST(Architecture, ReadsTinyClipWidthsFromTensors) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto arch = detect_architecture(fixture_state("clipb224"), {}, "clipb224");
  const auto& c = arch.config;
  EXPECT_EQ(c.teacher, tokenflow::Teacher::Clip);
  EXPECT_EQ(c.semantic_width, 64);
  EXPECT_EQ(c.semantic_layers, 2);
  EXPECT_EQ(c.semantic_heads, 2);
  EXPECT_EQ(c.semantic_patch, 16);
  EXPECT_EQ(c.semantic_output_dim, 48);
  EXPECT_EQ(c.encoder_ch, 32);
  EXPECT_EQ(c.z_channels, 64);
  EXPECT_EQ(c.encoder_ch_mult, (std::vector<int>{1, 1, 2, 2, 4}));
  EXPECT_EQ(c.encoder_res_blocks, 2);
  EXPECT_EQ(c.decoder_res_blocks, 2);
  EXPECT_FALSE(arch.enhanced_decoder);
  EXPECT_EQ(c.codebook_size, 1024);
  EXPECT_EQ(c.semantic_code_dim, 32);
  EXPECT_EQ(c.pixel_code_dim, 8);
}

TEST(Architecture, EnhancedDecoderRunsClipAt256) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto arch = detect_architecture(fixture_state("clipb256e"), {}, "clipb256e");
  EXPECT_TRUE(arch.enhanced_decoder);
  EXPECT_EQ(arch.config.decoder_res_blocks, 4);
  EXPECT_EQ(arch.config.image_size, 256);
  LoadOptions at224;
  at224.image_size = 224;
  EXPECT_EQ(detect_architecture(fixture_state("clipb256e"), at224, "clipb256e").config.tokens_per_image, 561);
}

TEST(Architecture, SiglipPixelBranchRunsAt432) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  const auto arch = detect_architecture(fixture_state("siglip384"), {}, "siglip384");
  EXPECT_EQ(arch.config.teacher, tokenflow::Teacher::Siglip);
  EXPECT_EQ(arch.config.image_size, 384);
  EXPECT_EQ(arch.config.pixel_image_size, 432);
  EXPECT_EQ(arch.config.semantic_layers, 3);
  EXPECT_EQ(arch.config.semantic_output_dim, 40);
}

TEST(Architecture, ExplicitHeadsOverrideTheDefault) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  LoadOptions options;
  options.semantic_heads = 4;
  EXPECT_EQ(detect_architecture(fixture_state("clipb224"), options, "x").config.semantic_heads, 4);
  options.semantic_heads = 3;
  EXPECT_THROW(detect_architecture(fixture_state("clipb224"), options, "x"), Error);
}

TEST(Architecture, MissingTensorIsNamed) {
  TOKENFLOW_REQUIRE_PARITY_FIXTURES();
  auto state = fixture_state("clipb224");
  state.tensors.erase("decoder_vqkd.pos_embed");
  try {
    detect_architecture(state, {}, "some.pt");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "some.pt: missing tensor decoder_vqkd.pos_embed");
  }
}

// The released sizes are detected from tensors alone, with the official head counts and input sizes.
TEST(Architecture, ReleasedArchitecturesAreDetectedFromTheirTensors) {
  for (const auto& name : released_architecture_names()) {
    const auto preset = released_architecture(name);
    TokenFlowNet net(preset);
    const auto detected = detect_architecture(nn::collect_weights(net), {}, name).config;
    const auto& expected = preset.config;
    EXPECT_EQ(detected.teacher, expected.teacher) << name;
    EXPECT_EQ(detected.image_size, expected.image_size) << name;
    EXPECT_EQ(detected.pixel_image_size, expected.pixel_image_size) << name;
    EXPECT_EQ(detected.scales, expected.scales) << name;
    EXPECT_EQ(detected.semantic_heads, expected.semantic_heads) << name;
    EXPECT_EQ(detected.semantic_decoder_heads, expected.semantic_decoder_heads) << name;
    EXPECT_EQ(detected.semantic_layers, expected.semantic_layers) << name;
    EXPECT_EQ(detected.decoder_ch, expected.decoder_ch) << name;
    EXPECT_EQ(detected.decoder_res_blocks, expected.decoder_res_blocks) << name;
    EXPECT_EQ(detected.codebook_size, 32768) << name;
  }
  EXPECT_EQ(released_architecture("clipb256e").config.tokens_per_image, 817);
  EXPECT_EQ(released_architecture("siglip384").config.tokens_per_image, 2227);
}

TEST(Architecture, ForeignCheckpointIsRejected) {
  io::StateDict state;
  state.insert("fc.weight", torch::zeros({2, 2}));
  EXPECT_THROW(detect_architecture(state, {}, "resnet.pt"), Error);
}

}  // namespace
}  // namespace tokenflow::model
